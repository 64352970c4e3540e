//! One cursor type for every list of the TUI: the selected row and the first row shown. Keys move
//! the selection; the renderer asks for the first row to draw, which scrolls only as far as needed
//! to keep the selection in view and is remembered for the next frame (so moving back up inside
//! the visible rows does not scroll).

use std::cell::Cell;

use super::keys::Move;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListCursor {
    selected: usize,
    /// First visible row; moved only by [`ListCursor::offset`] (drawing takes `&` state).
    scroll: Cell<usize>,
}

impl ListCursor {
    /// The selected row (0 in an empty list).
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// Whether row `i` is the selected one.
    pub fn is(&self, i: usize) -> bool {
        self.selected == i
    }

    /// Moves by a key's step in a list of `len` rows; true when the selection changed.
    pub fn apply(&mut self, m: Move, len: usize) -> bool {
        let before = self.selected;
        self.selected = m.apply(self.selected, len);
        self.selected != before
    }

    /// Selects row `i`, or the last row when the list is shorter.
    pub fn select(&mut self, i: usize, len: usize) {
        self.selected = i.min(len.saturating_sub(1));
    }

    /// Keeps the selection inside a list that now has `len` rows.
    pub fn clamp(&mut self, len: usize) {
        self.select(self.selected, len);
    }

    /// Back to the first row, scrolled to the top (a new list).
    pub fn reset(&mut self) {
        self.selected = 0;
        self.scroll.set(0);
    }

    /// The first row to show of `len` rows in a view `height` rows tall: the last frame's, moved
    /// only as far as needed to show the selection.
    pub fn offset(&self, len: usize, height: usize) -> usize {
        let mut offset = self.scroll.get().min(len.saturating_sub(1));
        if self.selected < offset {
            offset = self.selected;
        } else if height > 0 && self.selected >= offset + height {
            offset = self.selected + 1 - height;
        }
        self.scroll.set(offset);
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_stay_inside_the_list() {
        let mut cursor = ListCursor::default();
        assert!(!cursor.apply(Move::By(-1), 5), "already at the top");
        assert!(cursor.apply(Move::By(10), 5));
        assert_eq!(cursor.selected(), 4);
        assert!(cursor.apply(Move::First, 5));
        assert_eq!(cursor.selected(), 0);
        assert!(cursor.apply(Move::Last, 5));
        assert!(cursor.is(4));
        // An empty list has only row 0.
        assert!(cursor.apply(Move::Last, 0));
        assert_eq!(cursor.selected(), 0);
    }

    #[test]
    fn a_shorter_list_pulls_the_selection_in() {
        let mut cursor = ListCursor::default();
        cursor.select(7, 10);
        assert_eq!(cursor.selected(), 7);
        cursor.clamp(3);
        assert_eq!(cursor.selected(), 2);
        cursor.select(9, 0);
        assert_eq!(cursor.selected(), 0);
    }

    #[test]
    fn scrolls_only_as_far_as_needed_and_remembers() {
        let mut cursor = ListCursor::default();
        // 20 rows, 5 shown: moving down to row 4 keeps the top; row 5 scrolls by one.
        cursor.select(4, 20);
        assert_eq!(cursor.offset(20, 5), 0);
        cursor.select(5, 20);
        assert_eq!(cursor.offset(20, 5), 1);
        cursor.select(12, 20);
        assert_eq!(cursor.offset(20, 5), 8);
        // Back up inside the rows shown: no scroll.
        cursor.select(9, 20);
        assert_eq!(cursor.offset(20, 5), 8);
        // Above them: the selection becomes the top row.
        cursor.select(3, 20);
        assert_eq!(cursor.offset(20, 5), 3);
        // The list shrank under the remembered offset.
        cursor.select(1, 2);
        assert_eq!(cursor.offset(2, 5), 1);
        cursor.reset();
        assert_eq!((cursor.selected(), cursor.offset(20, 5)), (0, 0));
        // A view with no rows (a tiny terminal) does not scroll.
        cursor.select(6, 20);
        assert_eq!(cursor.offset(20, 0), 0);
    }
}
