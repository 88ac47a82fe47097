//! A short list kept inline, spilling to the heap only when it grows past `N`: parsing a
//! usual head allocates nothing for its bookkeeping.

/// Up to `N` items inline; all of them in `spilled` once there are more.
#[derive(Clone, Debug)]
pub(crate) struct InlineVec<T, const N: usize> {
    inline: [T; N],
    len: usize,
    spilled: Vec<T>,
}

impl<T: Copy + Default, const N: usize> InlineVec<T, N> {
    pub(crate) fn new() -> Self {
        InlineVec {
            inline: [T::default(); N],
            len: 0,
            spilled: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        if self.len < N {
            self.inline[self.len] = item;
        } else {
            if self.len == N {
                self.spilled.extend_from_slice(&self.inline);
            }
            self.spilled.push(item);
        }
        self.len += 1;
    }

    /// Empties the list, keeping a spilled list's allocation.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.spilled.clear();
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        if self.len <= N {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InlineVec;

    #[test]
    fn spills_past_n_and_keeps_order() {
        let mut v = InlineVec::<u32, 4>::new();
        for i in 0..10 {
            v.push(i);
            assert_eq!(v.as_slice(), (0..=i).collect::<Vec<_>>());
        }
        v.clear();
        assert!(v.as_slice().is_empty());
        v.push(7);
        assert_eq!(v.as_slice(), [7]);
    }
}
