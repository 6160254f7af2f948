//! The column index of a dictionary chunk (see the parent module): each page's
//! bounds and nulls, and whether the bounds ascend or descend, as the Arrow writer
//! records them, so that readers can skip pages by value.

use parquet::basic::{BoundaryOrder, Type as PhysicalType};
use parquet::errors::Result;
use parquet::file::metadata::ColumnIndexBuilder;
use parquet::file::page_index::column_index::ColumnIndexMetaData;

/// The column index of a chunk: each page's min and max (its smallest and largest
/// keys, the dictionary being sorted) and nulls, and whether the pages' bounds
/// ascend or descend. Values are kept whole, not truncated.
pub struct PageIndex {
    builder: ColumnIndexBuilder,
    /// The smallest and largest key of the last page that had a value.
    last_bounds: Option<(u32, u32)>,
    ascending: bool,
    descending: bool,
}

impl PageIndex {
    pub fn new() -> Self {
        PageIndex {
            builder: ColumnIndexBuilder::new(PhysicalType::BYTE_ARRAY),
            last_bounds: None,
            ascending: true,
            descending: true,
        }
    }

    /// Adds a page: its keys (those of its values, not its nulls) and its nulls.
    pub fn append(&mut self, dictionary: &[Vec<u8>], keys: &[u32], nulls: usize) {
        let nulls = nulls as i64;
        let (Some(&min), Some(&max)) = (keys.iter().min(), keys.iter().max()) else {
            self.builder.append(true, Vec::new(), Vec::new(), nulls);
            return;
        };
        if let Some((last_min, last_max)) = self.last_bounds {
            self.ascending &= last_min <= min && last_max <= max;
            self.descending &= min <= last_min && max <= last_max;
        }
        self.last_bounds = Some((min, max));
        let value = |key: u32| dictionary[key as usize].clone();
        self.builder.append(false, value(min), value(max), nulls);
    }

    pub fn build(mut self) -> Result<ColumnIndexMetaData> {
        self.builder.set_boundary_order(match (self.ascending, self.descending) {
            (true, _) => BoundaryOrder::ASCENDING,
            (false, true) => BoundaryOrder::DESCENDING,
            (false, false) => BoundaryOrder::UNORDERED,
        });
        self.builder.build()
    }
}
