//! A rollup's group keys as numbers: the minute, then one code per key column. Text
//! is interned once per distinct value (a dictionary column's values once per batch,
//! not once per row), so grouping 64 Ki rows hashes small fixed-size arrays instead
//! of strings; the codes turn back into columns for the rollup's rows.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Array, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int32Type};
use arrow::error::ArrowError;

/// The most key columns a rollup has.
pub(super) const MAX_KEYS: usize = 9;
/// A group: the minute (µs), then the key columns' codes (unused slots 0).
pub(super) type GroupKey = [u64; MAX_KEYS + 1];
/// The code of NULL in every key column.
const NULL: u64 = u64::MAX;

/// How one key column's values become codes and back.
pub(super) enum KeyColumn {
    Text { ids: HashMap<String, u64, foldhash::fast::RandomState>, values: Vec<String> },
    Int32,
    Bool,
}

impl KeyColumn {
    pub(super) fn for_type(data_type: &DataType) -> Result<KeyColumn, ArrowError> {
        match data_type {
            DataType::Utf8 => Ok(KeyColumn::Text { ids: HashMap::default(), values: Vec::new() }),
            DataType::Int32 => Ok(KeyColumn::Int32),
            DataType::Boolean => Ok(KeyColumn::Bool),
            other => Err(ArrowError::SchemaError(format!("no rollup key of type {other}"))),
        }
    }

    /// Writes the code of each row of `array` into `slot` of its group key.
    pub(super) fn encode(
        &mut self,
        array: &ArrayRef,
        keys: &mut [GroupKey],
        slot: usize,
    ) -> Result<(), ArrowError> {
        match self {
            KeyColumn::Text { ids, values } => encode_text(ids, values, array, keys, slot),
            KeyColumn::Int32 => {
                let numbers = cast(array, &DataType::Int32)?;
                for (key, number) in keys.iter_mut().zip(numbers.as_primitive::<Int32Type>()) {
                    key[slot] = number.map_or(NULL, |number| u64::from(number as u32));
                }
                Ok(())
            }
            KeyColumn::Bool => {
                let flags = cast(array, &DataType::Boolean)?;
                for (key, flag) in keys.iter_mut().zip(flags.as_boolean()) {
                    key[slot] = flag.map_or(NULL, u64::from);
                }
                Ok(())
            }
        }
    }

    /// The column of the values whose codes `keys` hold in `slot`.
    pub(super) fn decode(&self, keys: &[GroupKey], slot: usize) -> ArrayRef {
        let codes = keys.iter().map(|key| key[slot]).map(|code| (code != NULL).then_some(code));
        match self {
            KeyColumn::Text { values, .. } => {
                let text = codes.map(|code| code.map(|code| values[code as usize].as_str()));
                Arc::new(text.collect::<StringArray>())
            }
            KeyColumn::Int32 => Arc::new(
                codes.map(|code| code.map(|code| code as u32 as i32)).collect::<Int32Array>(),
            ),
            KeyColumn::Bool => {
                Arc::new(codes.map(|code| code.map(|code| code == 1)).collect::<BooleanArray>())
            }
        }
    }
}

/// The minutes of `keys` as the rollup's `ts` column.
pub(super) fn minutes_column(keys: &[GroupKey]) -> ArrayRef {
    let minutes = keys.iter().map(|key| key[0] as i64);
    Arc::new(TimestampMicrosecondArray::from_iter_values(minutes).with_timezone("UTC"))
}

fn encode_text(
    ids: &mut HashMap<String, u64, foldhash::fast::RandomState>,
    values: &mut Vec<String>,
    array: &ArrayRef,
    keys: &mut [GroupKey],
    slot: usize,
) -> Result<(), ArrowError> {
    let mut id_of = |text: &str| -> u64 {
        if let Some(id) = ids.get(text) {
            return *id;
        }
        let id = values.len() as u64;
        values.push(text.to_owned());
        ids.insert(text.to_owned(), id);
        id
    };
    if let Some(dictionary) = array.as_any_dictionary_opt() {
        if dictionary.values().is_empty() {
            // Every row NULL (a dictionary of no values has no key to normalize).
            keys.iter_mut().for_each(|key| key[slot] = NULL);
            return Ok(());
        }
        // Each dictionary value once, then each row by its key.
        let dictionary_values = cast(dictionary.values(), &DataType::Utf8)?;
        let codes: Vec<u64> = dictionary_values
            .as_string::<i32>()
            .iter()
            .map(|value| value.map_or(NULL, &mut id_of))
            .collect();
        let nulls = array.logical_nulls();
        for (row, (key, index)) in keys.iter_mut().zip(dictionary.normalized_keys()).enumerate() {
            let is_null = nulls.as_ref().is_some_and(|nulls| nulls.is_null(row));
            key[slot] = if is_null { NULL } else { codes.get(index).copied().unwrap_or(NULL) };
        }
        return Ok(());
    }
    let text = match array.data_type() {
        DataType::Utf8 => array.clone(),
        _ => cast(array, &DataType::Utf8)?,
    };
    for (key, value) in keys.iter_mut().zip(text.as_string::<i32>()) {
        key[slot] = value.map_or(NULL, &mut id_of);
    }
    Ok(())
}
