//! The Settings pane (`,` on every screen): what `pepr config` sets, edited in the TUI and applied at
//! once. A changed value is checked by the settings module, saved to settings.json by the event loop
//! (the app does no I/O) and then used: the meters of the next run, PePR-E's energy basis (the
//! store is ranked again). A settings file pepr could not read is never saved over.

use crossterm::event::{KeyCode, KeyEvent};

use crate::settings::{KEYS, Settings};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SettingsForm {
    pub open: bool,
    /// Index into [`KEYS`].
    pub cursor: super::list::ListCursor,
    /// The text being typed for the key under the cursor.
    pub editing: Option<String>,
}

/// What a key in the pane asks the app to do.
#[derive(Clone, Debug, PartialEq)]
pub enum SettingsAction {
    None,
    /// Save these settings and use them; the text says what changed.
    Save(Settings, String),
    /// A value was refused: why.
    Refused(String),
}

impl SettingsForm {
    pub fn key_name(&self) -> &'static str {
        KEYS[self.cursor.selected().min(KEYS.len() - 1)]
    }

    /// A key while the pane is open; `current` is the settings in use.
    pub fn handle_key(&mut self, event: KeyEvent, current: &Settings) -> SettingsAction {
        use super::keys::{Key, SETTINGS, SettingsKeyAction as A, lookup};
        if let Some(text) = &mut self.editing {
            match event.code {
                KeyCode::Esc => self.editing = None,
                KeyCode::Enter => {
                    let text = self.editing.take().unwrap_or_default();
                    let key = self.key_name();
                    let mut next = current.clone();
                    if text.trim().is_empty() {
                        return match next.unset(key) {
                            Ok(()) => SettingsAction::Save(next, format!("{key} back to its default")),
                            Err(e) => SettingsAction::Refused(e),
                        };
                    }
                    return match next.set(key, &text) {
                        Ok(()) => SettingsAction::Save(next, format!("{key} set to {}", text.trim())),
                        Err(e) => SettingsAction::Refused(e),
                    };
                }
                _ => {
                    super::text_input::edit_text(text, event);
                }
            }
            return SettingsAction::None;
        }
        match lookup(SETTINGS, Key::of(event)) {
            Some(A::Move(m)) => {
                self.cursor.apply(m, KEYS.len());
            }
            Some(A::Edit) => self.editing = Some(String::new()),
            Some(A::Default) => {
                let key = self.key_name();
                let mut next = current.clone();
                return match next.unset(key) {
                    Ok(()) => SettingsAction::Save(next, format!("{key} back to its default")),
                    Err(e) => SettingsAction::Refused(e),
                };
            }
            Some(A::Close) => self.open = false,
            None => {}
        }
        SettingsAction::None
    }
}

/// Where a figure the settings feed is missing, and how to get it.
pub fn hint(key: &str) -> &'static str {
    match key {
        "carbon_intensity" => "CO2 = energy x intensity x PUE; a country code (DK) uses its grid's average",
        "pue" => "the data centre's overhead on the machine's energy; 1.0 for a desktop",
        "sample_interval_ms" => "how often power is read while a run trains",
        "idle_baseline_s" => "measure idle power before a run to get net energy (rank_energy net)",
        "cpu_tdp_w" => "without a power counter, energy is TDP x CPU load: set it if the CPU table lacks yours",
        "rank_energy" => "gross (everything measured, as the paper) or net of the idle baseline",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn typing_a_value_saves_it_and_a_bad_one_is_refused() {
        let mut form = SettingsForm { open: true, ..SettingsForm::default() };
        let current = Settings::default();
        // pue is the second key.
        form.handle_key(key(KeyCode::Down), &current);
        assert_eq!(form.key_name(), "pue");
        form.handle_key(key(KeyCode::Enter), &current);
        for c in "1.58".chars() {
            form.handle_key(key(KeyCode::Char(c)), &current);
        }
        let SettingsAction::Save(saved, what) = form.handle_key(key(KeyCode::Enter), &current) else { panic!() };
        assert_eq!((saved.pue, what.as_str()), (Some(1.58), "pue set to 1.58"));
        form.handle_key(key(KeyCode::Enter), &saved);
        form.handle_key(key(KeyCode::Char('9')), &saved);
        let SettingsAction::Refused(why) = form.handle_key(key(KeyCode::Enter), &saved) else { panic!() };
        assert!(why.starts_with("`pue`"), "{why}");
        let SettingsAction::Save(reset, _) = form.handle_key(key(KeyCode::Char('u')), &saved) else { panic!() };
        assert_eq!(reset.pue, None);
        form.handle_key(key(KeyCode::Esc), &saved);
        assert!(!form.open);
    }
}
