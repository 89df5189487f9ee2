//! The front worker's wait queue for requests that need a runner: bounded in
//! all and per key (a tenant, or an API key), and served round robin across
//! keys, so that one tenant's burst delays each other tenant by at most one
//! request per turn.

use std::collections::{HashMap, VecDeque};

pub struct FairQueue<T> {
    waiting: HashMap<String, VecDeque<T>>,
    /// keys with something waiting, in serving order
    turns: VecDeque<String>,
    len: usize,
    max: usize,
    max_per_key: usize,
}

/// Why a request was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Full {
    All(usize),
    Key(usize),
}

impl<T> FairQueue<T> {
    pub fn new(max: usize, max_per_key: usize) -> Self {
        FairQueue {
            waiting: HashMap::new(),
            turns: VecDeque::new(),
            len: 0,
            max,
            max_per_key: max_per_key.min(max),
        }
    }

    /// New bounds (a reload); what waits already stays.
    pub fn set_limits(&mut self, max: usize, max_per_key: usize) {
        self.max = max;
        self.max_per_key = max_per_key.min(max);
    }

    /// Puts back at the head of its key's queue an item popped but not served.
    pub fn unpop(&mut self, key: &str, item: T) {
        let queue = self.waiting.entry(key.to_string()).or_default();
        if queue.is_empty() {
            self.turns.push_front(key.to_string());
        }
        queue.push_front(item);
        self.len += 1;
    }

    /// Whether some key that `eligible` allows has a request waiting.
    pub fn any_eligible(&self, eligible: impl Fn(&str) -> bool) -> bool {
        self.turns.iter().any(|k| eligible(k))
    }

    /// Takes out every item that `expired` says has waited too long.
    pub fn take_expired(&mut self, expired: impl Fn(&T) -> bool) -> Vec<T> {
        let mut out = Vec::new();
        for queue in self.waiting.values_mut() {
            let (gone, kept): (VecDeque<T>, VecDeque<T>) =
                queue.drain(..).partition(|i| expired(i));
            *queue = kept;
            out.extend(gone);
        }
        self.waiting.retain(|_, q| !q.is_empty());
        let waiting = &self.waiting;
        self.turns.retain(|k| waiting.contains_key(k));
        self.len -= out.len();
        out
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push(&mut self, key: &str, item: T) -> Result<(), (Full, T)> {
        if self.len >= self.max {
            return Err((Full::All(self.max), item));
        }
        let queue = self.waiting.entry(key.to_string()).or_default();
        if queue.len() >= self.max_per_key {
            return Err((Full::Key(self.max_per_key), item));
        }
        if queue.is_empty() {
            self.turns.push_back(key.to_string());
        }
        queue.push_back(item);
        self.len += 1;
        Ok(())
    }

    /// The next request: the oldest of the first key in turn that
    /// `eligible` allows (one at its share of the runners keeps its turn).
    pub fn pop_eligible(&mut self, eligible: impl Fn(&str) -> bool) -> Option<(String, T)> {
        let at = self.turns.iter().position(|k| eligible(k))?;
        let key = self.turns.remove(at)?;
        let queue = self.waiting.get_mut(&key)?;
        let item = queue.pop_front()?;
        self.len -= 1;
        if queue.is_empty() {
            self.waiting.remove(&key);
        } else {
            self.turns.push_back(key.clone());
        }
        Some((key, item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_take_turns_and_each_key_keeps_its_order() {
        let mut q = FairQueue::new(100, 100);
        for i in 0..5 {
            q.push("noisy", format!("n{i}")).expect("room");
        }
        q.push("quiet", "q0".to_string()).expect("room");
        q.push("other", "o0".to_string()).expect("room");
        let order: Vec<String> =
            std::iter::from_fn(|| q.pop_eligible(|_| true).map(|(_, i)| i)).collect();
        assert_eq!(order, ["n0", "q0", "o0", "n1", "n2", "n3", "n4"]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn keys_at_their_share_wait_without_blocking_others() {
        let mut q = FairQueue::new(100, 100);
        q.push("slow", 1).expect("room");
        q.push("slow", 2).expect("room");
        q.push("fast", 3).expect("room");
        let busy = |k: &str| k == "slow";
        assert_eq!(q.pop_eligible(|k| !busy(k)), Some(("fast".to_string(), 3)));
        assert_eq!(q.pop_eligible(|k| !busy(k)), None);
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop_eligible(|_| true), Some(("slow".to_string(), 1)));
    }

    #[test]
    fn expired_items_leave_and_turns_stay_right() {
        let mut q = FairQueue::new(100, 100);
        for (k, i) in [("a", 1), ("b", 2), ("a", 3), ("c", 4)] {
            q.push(k, i).expect("room");
        }
        let mut gone = q.take_expired(|i| *i == 2 || *i == 1);
        gone.sort();
        assert_eq!(gone, [1, 2]);
        assert_eq!(q.len(), 2);
        let order: Vec<i32> =
            std::iter::from_fn(|| q.pop_eligible(|_| true).map(|(_, i)| i)).collect();
        assert_eq!(order, [3, 4]);
    }

    #[test]
    fn an_unserved_item_goes_back_first() {
        let mut q = FairQueue::new(2, 2);
        q.push("a", 1).expect("room");
        q.push("b", 2).expect("room");
        let (k, i) = q.pop_eligible(|_| true).expect("one");
        q.unpop(&k, i);
        assert!(q.any_eligible(|k| k == "b") && !q.any_eligible(|k| k == "c"));
        assert_eq!(q.pop_eligible(|_| true), Some(("a".to_string(), 1)));
    }

    #[test]
    fn bounded_in_all_and_per_key() {
        let mut q = FairQueue::new(3, 2);
        q.push("a", 1).expect("room");
        q.push("a", 2).expect("room");
        assert_eq!(q.push("a", 3), Err((Full::Key(2), 3)));
        q.push("b", 4).expect("room");
        assert_eq!(q.push("c", 5), Err((Full::All(3), 5)));
        assert_eq!(q.pop_eligible(|_| true), Some(("a".to_string(), 1)));
        q.push("c", 5).expect("room again");
        assert_eq!(q.len(), 3);
    }
}
