use std::collections::VecDeque;

/// A bounded FIFO queue.
pub struct Queue<T> {
    items: VecDeque<T>,
    capacity: usize,
}

pub enum PushError {
    Full,
}

pub trait Drain {
    fn drain_all(&mut self) -> usize;
}

impl<T> Queue<T> {
    pub fn new(capacity: usize) -> Self {
        Queue { items: VecDeque::new(), capacity }
    }

    pub fn push(&mut self, item: T) -> Result<(), PushError> {
        if self.items.len() == self.capacity {
            return Err(PushError::Full);
        }
        self.items.push_back(item);
        Ok(())
    }
}

impl<T> Drain for Queue<T> {
    fn drain_all(&mut self) -> usize {
        let n = self.items.len();
        self.items.clear();
        n
    }
}

pub fn make_queue() -> Queue<i32> {
    Queue::new(8)
}
