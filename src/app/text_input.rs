//! Key handling shared by every screen's `/` filter.

use crossterm::event::{KeyCode, KeyEvent};

/// Applies a key to a filter being typed: characters and Backspace edit it, Enter keeps it, Esc
/// clears it; both end editing. Returns whether the filter text changed.
pub fn edit_filter(filter: &mut String, editing: &mut bool, key: KeyEvent) -> bool {
    match key.code {
        KeyCode::Enter => {
            *editing = false;
            false
        }
        KeyCode::Esc => {
            *editing = false;
            let changed = !filter.is_empty();
            filter.clear();
            changed
        }
        KeyCode::Backspace => filter.pop().is_some(),
        KeyCode::Char(c) => {
            filter.push(c);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    #[test]
    fn typing_keeping_and_clearing() {
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        let (mut filter, mut editing) = (String::new(), true);
        assert!(edit_filter(&mut filter, &mut editing, key(KeyCode::Char('a'))));
        assert!(edit_filter(&mut filter, &mut editing, key(KeyCode::Char('b'))));
        assert!(edit_filter(&mut filter, &mut editing, key(KeyCode::Backspace)));
        assert_eq!(filter, "a");
        assert!(!edit_filter(&mut filter, &mut editing, key(KeyCode::Enter)));
        assert!(!editing);
        editing = true;
        assert!(edit_filter(&mut filter, &mut editing, key(KeyCode::Esc)));
        assert!(filter.is_empty() && !editing);
    }
}
