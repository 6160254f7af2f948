//! Sharing a committer's per-column work (gathering a column into time order,
//! encoding a column chunk) between threads. While ingest reads, the reader keeps
//! one core busy and the committer the other, so the committer works on one thread;
//! once reading is done, the batches still queued would leave a core idle, and the
//! committer shares their columns between all cores instead. Columns go to
//! whichever thread asks next, so a costly one does not hold up cheap ones.

use std::num::NonZero;
use std::sync::{Mutex, PoisonError};

/// Threads beyond this find too few columns to share and only add switching.
const MAX_THREADS: usize = 8;

/// The threads per-column work may use when nothing else needs the cores: one
/// per core, at most [`MAX_THREADS`].
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, NonZero::get).clamp(1, MAX_THREADS)
}

/// `work` applied to every item on up to `threads` threads, the calling thread
/// being one of them; the results come back in the items' order.
pub fn map_in_parallel<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.into_iter().map(work).collect();
    }
    let queue = Mutex::new(items.into_iter().enumerate());
    let next = || queue.lock().unwrap_or_else(PoisonError::into_inner).next();
    let drain = || {
        let mut done = Vec::new();
        while let Some((index, item)) = next() {
            done.push((index, work(item)));
        }
        done
    };
    let mut results = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(drain)).collect();
        let mut results = drain();
        for helper in helpers {
            results.extend(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        results
    });
    results.sort_unstable_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_the_items_order() {
        let items: Vec<u64> = (0..1000).collect();
        for threads in [1, 2, 3, 64] {
            let squares = map_in_parallel(items.clone(), threads, |n| n * n);
            assert_eq!(squares, items.iter().map(|n| n * n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_work_is_shared_between_threads() {
        let seen = Mutex::new(std::collections::HashSet::new());
        let threads_seen = || seen.lock().unwrap_or_else(PoisonError::into_inner).len();
        map_in_parallel((0..4).collect(), 2, |_: u32| {
            seen.lock().unwrap_or_else(PoisonError::into_inner).insert(std::thread::current().id());
            // Every item waits for the other thread to show up (one at most 5 s).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while threads_seen() < 2 && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
        assert_eq!(threads_seen(), 2);
    }

    #[test]
    fn no_items_give_no_results() {
        assert!(map_in_parallel(Vec::<u8>::new(), 4, |n| n).is_empty());
    }

    #[test]
    #[should_panic(expected = "column 7")]
    fn a_panicking_item_panics_the_caller() {
        map_in_parallel((0..16).collect(), 2, |n: u32| assert!(n != 7, "column {n}"));
    }
}
