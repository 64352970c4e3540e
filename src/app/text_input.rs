//! Key handling shared by every text being typed: the screens' `/` filters, the import path, the
//! Settings pane's values and the grid form's fields.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Applies an editing key to `text`, as a shell line does: characters add, Backspace and Ctrl-H
/// remove one, Ctrl-W the word before the cursor, Ctrl-U the whole line. Other Ctrl keys type
/// nothing. Returns whether the text changed.
pub fn edit_text(text: &mut String, key: KeyEvent) -> bool {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Backspace => text.pop().is_some(),
        KeyCode::Char('h') if ctrl => text.pop().is_some(),
        KeyCode::Char('u') if ctrl => {
            let changed = !text.is_empty();
            text.clear();
            changed
        }
        KeyCode::Char('w') if ctrl => {
            let before = text.len();
            let kept = text.trim_end().len();
            let word_start = text[..kept].rfind(char::is_whitespace).map_or(0, |i| i + 1);
            text.truncate(word_start);
            text.len() != before
        }
        KeyCode::Char(_) if ctrl => false,
        KeyCode::Char(c) => {
            text.push(c);
            true
        }
        _ => false,
    }
}

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
        _ => edit_text(filter, key),
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

    #[test]
    fn ctrl_u_w_h_edit_instead_of_typing_letters() {
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        let mut text = String::from("resnet derma_pt");
        assert!(edit_text(&mut text, ctrl('h')));
        assert_eq!(text, "resnet derma_p");
        assert!(edit_text(&mut text, ctrl('w')));
        assert_eq!(text, "resnet ");
        let mut text = String::from("one two  ");
        assert!(edit_text(&mut text, ctrl('w')));
        assert_eq!(text, "one ");
        assert!(edit_text(&mut text, ctrl('u')));
        assert_eq!(text, "");
        assert!(!edit_text(&mut text, ctrl('u')));
        assert!(!edit_text(&mut text, ctrl('x')), "other Ctrl keys type nothing");
        assert_eq!(text, "");
        // Through the filter too.
        let (mut filter, mut editing) = (String::from("abc"), true);
        assert!(edit_filter(&mut filter, &mut editing, ctrl('u')));
        assert!(filter.is_empty() && editing);
    }
}
