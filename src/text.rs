//! Text from files and users made safe to show: every printed field (CLI tables, the TUI) goes
//! through [`clean`], so a name holding escape sequences or newlines cannot move the cursor, clear the
//! screen or set the window title; widths are terminal columns, so CJK and emoji names line up.

use std::borrow::Cow;

use unicode_width::UnicodeWidthStr;

/// The longest name (architecture, dataset, group, id) an import accepts, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Characters that must not reach a terminal as they are: C0 and C1 controls, DEL, and the
/// bidirectional overrides that can make text read differently from what it is.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// `text` with every unsafe character written as an escape (`\n`, `\t`, `\u{1b}`), visible and inert.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Terminal columns `text` takes (wide CJK and emoji count 2).
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` padded with spaces to `columns` terminal columns, on the right (`left_align`) or left.
pub fn pad(text: &str, columns: usize, left_align: bool) -> String {
    let fill = " ".repeat(columns.saturating_sub(width(text)));
    if left_align { format!("{text}{fill}") } else { format!("{fill}{text}") }
}

/// Refuses a name that is empty, too long, or holds control characters, naming the field.
pub fn check_name(field: &str, text: &str) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(format!("{field} is {chars} characters long; at most {MAX_NAME_CHARS} are accepted"));
    }
    if let Some(c) = text.chars().find(|&c| is_unsafe(c)) {
        return Err(format!("{field} holds the control character {} ({:?})", c.escape_default(), clean(text)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_make_control_characters_inert_and_visible() {
        assert!(matches!(clean("resnet18"), Cow::Borrowed("resnet18")));
        assert_eq!(clean("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(clean("x\ny\tz\r"), "x\\ny\\tz\\r");
        assert_eq!(clean("\x1b]0;pwned\x07"), "\\u{1b}]0;pwned\\u{7}");
        assert_eq!(clean("\u{9b}31m"), "\\u{9b}31m", "C1 CSI");
        assert_eq!(clean("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert!(!clean("\x1b\n\u{7f}").chars().any(char::is_control));
    }

    #[test]
    fn widths_count_terminal_columns() {
        assert_eq!(width("vit"), 3);
        assert_eq!(width("残差网络"), 8);
        assert_eq!(width("🚀net"), 5);
        assert_eq!(pad("残差", 6, true), "残差  ");
        assert_eq!(pad("ab", 4, false), "  ab");
        assert_eq!(pad("toolong", 3, true), "toolong");
    }

    #[test]
    fn names_are_checked_for_length_and_controls() {
        assert!(check_name("arch", "resnet18").is_ok());
        assert!(check_name("arch", &"x".repeat(MAX_NAME_CHARS)).is_ok());
        let long = check_name("arch", &"x".repeat(10_000_000)).unwrap_err();
        assert!(long.contains("arch is 10000000 characters long"), "{long}");
        let control = check_name("group", "g\x1b[2J").unwrap_err();
        assert!(control.contains("group holds the control character \\u{1b}"), "{control}");
    }
}
