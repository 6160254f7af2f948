//! Yield points inside joins, so a query's time limit and a client's cancel always
//! stop it. Tokio can only stop a task when it yields, and DataFusion makes a plan
//! yield by charging Tokio's budget at its scans (`EnsureCooperative`). A join does
//! not read its inputs for every batch it emits: a cross join emits one batch per
//! row of its build side before reading its probe side again, so a cross join of
//! two large tables can spin on a worker for hours without touching a scan. The
//! rule here runs after DataFusion's own and wraps every join, and every `UNNEST`
//! (which also emits many batches per input batch), in a `CooperativeExec`, which
//! charges the budget for each batch it passes on.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::execution_plan::SchedulingType;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::unnest::UnnestExec;

/// The physical optimizer rule that puts a [`CooperativeExec`] above every operator
/// that may emit many batches for each batch it reads.
#[derive(Debug, Default)]
pub struct YieldInJoins;

impl PhysicalOptimizerRule for YieldInJoins {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if !emits_many_batches_per_input_batch(node.as_ref()) {
                return Ok(Transformed::no(node));
            }
            Ok(Transformed::yes(Arc::new(CooperativeExec::new(node)) as Arc<dyn ExecutionPlan>))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "yield_in_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Joins (every operator with two inputs but a union) and `UNNEST`, unless the
/// operator already charges the budget itself.
fn emits_many_batches_per_input_batch(plan: &dyn ExecutionPlan) -> bool {
    if plan.properties().scheduling_type == SchedulingType::Cooperative {
        return false;
    }
    let is_join = plan.children().len() >= 2 && !plan.is::<UnionExec>();
    is_join || plan.is::<UnnestExec>()
}

#[cfg(test)]
mod tests {
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::SessionContext;

    use super::*;
    use crate::query::tests::runtime;

    #[test]
    fn joins_and_unnest_are_wrapped_and_scans_and_unions_are_not() {
        let state = datafusion::execution::SessionStateBuilder::new()
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(YieldInJoins))
            .build();
        let ctx = SessionContext::new_with_state(state);
        let sql = "SELECT count(*) FROM range(0, 10) a, (SELECT unnest([1, 2]) AS v \
                   UNION ALL SELECT 3) b";
        let plan = runtime()
            .block_on(async { ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap() });
        let shown = displayable(plan.as_ref()).indent(false).to_string();
        let wrapped = |operator: &str| {
            shown.lines().zip(shown.lines().skip(1)).any(|(above, line)| {
                above.trim_start().starts_with("CooperativeExec")
                    && line.trim_start().starts_with(operator)
            })
        };
        assert!(wrapped("CrossJoinExec"), "{shown}");
        assert!(wrapped("UnnestExec"), "{shown}");
        assert!(!wrapped("UnionExec"), "{shown}");
    }
}
