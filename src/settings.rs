//! The user's settings: `settings.json` in pepr's home, edited with `pepr config set|unset`.
//!
//! Every key is optional; an unset key means its default. A file pepr cannot read or that holds a
//! bad value is reported (file and field named) and pepr carries on with the defaults, never
//! overwriting it: `pepr config set` refuses to save over a file it could not read. Saving writes a
//! temporary file and renames it over the old one, so a crash leaves either the old or the new file.

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value};

use crate::carbon::{self, CarbonIntensity, DEFAULT_PUE};
use crate::results::rank::EnergyBasis;

/// Default sampling interval of the power meters, ms.
pub const DEFAULT_SAMPLE_INTERVAL_MS: u64 = 200;

/// The keys, in the order `pepr config show` lists them.
pub const KEYS: [&str; 7] =
    ["carbon_intensity", "pue", "sample_interval_ms", "idle_baseline_s", "cpu_tdp_w", "rank_energy", "threads"];

/// What each key takes, for errors and `pepr config show`.
fn expects(key: &str) -> &'static str {
    match key {
        "carbon_intensity" => "g CO2-eq/kWh (a number >= 0) or an ISO 3166 country code such as DK or DNK",
        "pue" => "power usage effectiveness, a number from 1 to 5 (default 1.0; carbontracker uses 1.58)",
        "sample_interval_ms" => "a whole number of milliseconds from 10 to 60000 (default 200)",
        "idle_baseline_s" => "seconds of idle power measured before a run, 0 to 600 (default 0 = off)",
        "cpu_tdp_w" => "the CPU's rated power in watts, above 0 and at most 2000 (default: from the CPU table)",
        "rank_energy" => "gross or net: the energy PePR-E ranks on (default gross, as the paper)",
        "threads" => "CPU threads a run trains with, a whole number from 1 to 4096 (default: every core)",
        _ => "",
    }
}

/// The settings as stored: `None` = not set, use the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// A number (g CO2-eq/kWh) or a country code, as given.
    pub carbon_intensity: Option<String>,
    pub pue: Option<f64>,
    pub sample_interval_ms: Option<u64>,
    pub idle_baseline_s: Option<f64>,
    pub cpu_tdp_w: Option<f64>,
    pub rank_energy: Option<EnergyBasis>,
    /// CPU threads per run; `None`: every core.
    pub threads: Option<usize>,
}

/// Checks one value exactly as `pepr config set KEY VALUE` does and returns it as stored, so a
/// command-line flag for the same setting (`--cpu-tdp` for `cpu_tdp_w`, ...) cannot accept what the
/// setting refuses. The error names the flag.
pub fn check_flag(flag: &str, key: &str, value: &str) -> Result<String, String> {
    let mut settings = Settings::default();
    settings.set(key, value).map_err(|e| format!("--{flag}: {}", e.trim_start_matches(&format!("`{key}`: "))))?;
    let stored = match key {
        "carbon_intensity" => settings.carbon_intensity,
        "pue" => settings.pue.map(|v| v.to_string()),
        "sample_interval_ms" => settings.sample_interval_ms.map(|v| v.to_string()),
        "idle_baseline_s" => settings.idle_baseline_s.map(|v| v.to_string()),
        "cpu_tdp_w" => settings.cpu_tdp_w.map(|v| v.to_string()),
        _ => None,
    };
    stored.ok_or_else(|| format!("--{flag}: `{key}` is not a setting"))
}

impl Settings {
    /// Reads the file; a missing file is the defaults. Errors name the file and, where it is one
    /// field's fault, the field.
    pub fn load(path: &Path) -> Result<Settings, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
        };
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: not valid JSON: {e}", path.display()))?;
        let Value::Object(map) = value else {
            return Err(format!("{}: expected a JSON object of settings", path.display()));
        };
        let mut settings = Settings::default();
        for (key, value) in map {
            let text = match value {
                Value::Null => continue,
                Value::Number(n) => n.to_string(),
                Value::String(s) => s,
                other => {
                    return Err(format!("{}: field `{key}`: expected {}, got {other}", path.display(), expects(&key)));
                }
            };
            settings.set(&key, &text).map_err(|e| format!("{}: field {e}", path.display()))?;
        }
        Ok(settings)
    }

    /// Reads the file, or falls back to the defaults with the reason (for the TUI and the meters,
    /// which keep running).
    pub fn load_or_default(path: &Path) -> (Settings, Option<String>) {
        match Settings::load(path) {
            Ok(settings) => (settings, None),
            Err(e) => (Settings::default(), Some(format!("{e}; using the default settings"))),
        }
    }

    /// Writes the settings atomically (temporary file, fsync, rename), creating the folder.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let fail = |what: &str, e: std::io::Error| format!("{}: cannot {what}: {e}", path.display());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail("create its folder", e))?;
        }
        let text = serde_json::to_string_pretty(&Value::Object(self.to_json())).expect("settings serialise") + "\n";
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp-{}", std::process::id()));
        let temp = path.with_file_name(name);
        let written = (|| {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })();
        if let Err(e) = written.and_then(|_| std::fs::rename(&temp, path)) {
            let _ = std::fs::remove_file(&temp);
            return Err(fail("write", e));
        }
        Ok(())
    }

    fn to_json(&self) -> Map<String, Value> {
        let mut map = Map::new();
        if let Some(spec) = &self.carbon_intensity {
            let value = spec.parse::<f64>().map_or_else(|_| Value::String(spec.clone()), |n| serde_json::json!(n));
            map.insert("carbon_intensity".into(), value);
        }
        let numbers = [("pue", self.pue), ("idle_baseline_s", self.idle_baseline_s), ("cpu_tdp_w", self.cpu_tdp_w)];
        for (key, value) in numbers {
            if let Some(v) = value {
                map.insert(key.into(), serde_json::json!(v));
            }
        }
        if let Some(ms) = self.sample_interval_ms {
            map.insert("sample_interval_ms".into(), serde_json::json!(ms));
        }
        if let Some(basis) = self.rank_energy {
            map.insert("rank_energy".into(), Value::String(basis.label().into()));
        }
        if let Some(n) = self.threads {
            map.insert("threads".into(), serde_json::json!(n));
        }
        map
    }

    /// Sets one key from text, checked; the error starts with the key in backticks.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        let bad = |why: String| format!("`{key}`: {why}");
        let number = |lo: f64, hi: f64, lo_open: bool| -> Result<f64, String> {
            let n: f64 = value.parse().map_err(|_| bad(format!("expected {}, got {value:?}", expects(key))))?;
            let low_ok = if lo_open { n > lo } else { n >= lo };
            if !(n.is_finite() && low_ok && n <= hi) {
                return Err(bad(format!("expected {}, got {value}", expects(key))));
            }
            Ok(n)
        };
        match key {
            "carbon_intensity" => {
                if value.is_empty() {
                    return Err(bad(format!("expected {}, got an empty value", expects(key))));
                }
                carbon::resolve(Some(value)).map_err(bad)?;
                let spec = if value.parse::<f64>().is_ok() { value.to_string() } else { value.to_ascii_uppercase() };
                self.carbon_intensity = Some(spec);
            }
            "pue" => self.pue = Some(number(1.0, 5.0, false)?),
            "sample_interval_ms" => {
                let ms: u64 = value.parse().map_err(|_| bad(format!("expected {}, got {value:?}", expects(key))))?;
                if !(10..=60_000).contains(&ms) {
                    return Err(bad(format!("expected {}, got {ms}", expects(key))));
                }
                self.sample_interval_ms = Some(ms);
            }
            "idle_baseline_s" => self.idle_baseline_s = Some(number(0.0, 600.0, false)?),
            "cpu_tdp_w" => self.cpu_tdp_w = Some(number(0.0, 2000.0, true)?),
            "rank_energy" => {
                let basis = EnergyBasis::parse(value)
                    .ok_or_else(|| bad(format!("expected {}, got {value:?}", expects(key))))?;
                self.rank_energy = Some(basis);
            }
            "threads" => {
                let n: usize = value.parse().map_err(|_| bad(format!("expected {}, got {value:?}", expects(key))))?;
                if !(1..=crate::train::threads::MAX_THREADS).contains(&n) {
                    return Err(bad(format!("expected {}, got {n}", expects(key))));
                }
                self.threads = Some(n);
            }
            _ => return Err(format!("`{key}`: unknown setting; the settings are: {}", KEYS.join(", "))),
        }
        Ok(())
    }

    /// Returns a key to its default.
    pub fn unset(&mut self, key: &str) -> Result<(), String> {
        match key {
            "carbon_intensity" => self.carbon_intensity = None,
            "pue" => self.pue = None,
            "sample_interval_ms" => self.sample_interval_ms = None,
            "idle_baseline_s" => self.idle_baseline_s = None,
            "cpu_tdp_w" => self.cpu_tdp_w = None,
            "rank_energy" => self.rank_energy = None,
            "threads" => self.threads = None,
            _ => return Err(format!("`{key}`: unknown setting; the settings are: {}", KEYS.join(", "))),
        }
        Ok(())
    }

    /// The carbon intensity to charge: the setting resolved, or the world average.
    pub fn intensity(&self) -> Result<CarbonIntensity, String> {
        carbon::resolve(self.carbon_intensity.as_deref())
    }

    pub fn pue(&self) -> f64 {
        self.pue.unwrap_or(DEFAULT_PUE)
    }

    pub fn sample_interval_ms(&self) -> u64 {
        self.sample_interval_ms.unwrap_or(DEFAULT_SAMPLE_INTERVAL_MS)
    }

    /// 0 = no idle baseline (no net energy).
    pub fn idle_baseline_s(&self) -> f64 {
        self.idle_baseline_s.unwrap_or(0.0)
    }

    /// The user's TDP override; `None` = look the CPU up in the table.
    pub fn cpu_tdp_w(&self) -> Option<f64> {
        self.cpu_tdp_w
    }

    /// The meters' settings from this file (flags may still override them).
    pub fn meter_settings(&self) -> crate::meter::MeterSettings {
        crate::meter::MeterSettings {
            sample_ms: self.sample_interval_ms(),
            idle_baseline_s: self.idle_baseline_s(),
            carbon_intensity: self.carbon_intensity.clone(),
            pue: self.pue(),
            cpu_tdp_w: self.cpu_tdp_w(),
            ..crate::meter::MeterSettings::default()
        }
    }

    pub fn rank_energy(&self) -> EnergyBasis {
        self.rank_energy.unwrap_or_default()
    }

    /// One line per key for `pepr config show`: key, value in effect, and where it comes from.
    pub fn describe(&self) -> Vec<(&'static str, String, String)> {
        let origin = |set: bool, default_note: &str| if set { "set".to_string() } else { default_note.to_string() };
        let intensity = match self.intensity() {
            Ok(c) => (format!("{} g CO2-eq/kWh", c.g_per_kwh), c.source),
            Err(e) => ("invalid".into(), e),
        };
        vec![
            (
                "carbon_intensity",
                intensity.0,
                match &self.carbon_intensity {
                    Some(spec) => format!("set to {spec}: {}", intensity.1),
                    None => format!("default: {}", intensity.1),
                },
            ),
            ("pue", format!("{}", self.pue()), origin(self.pue.is_some(), "default (carbontracker uses 1.58)")),
            (
                "sample_interval_ms",
                self.sample_interval_ms().to_string(),
                origin(self.sample_interval_ms.is_some(), "default"),
            ),
            (
                "idle_baseline_s",
                format!("{}", self.idle_baseline_s()),
                origin(self.idle_baseline_s.is_some(), "default (0 = off: no net energy)"),
            ),
            (
                "cpu_tdp_w",
                self.cpu_tdp_w.map_or("—".into(), |w| format!("{w} W")),
                origin(self.cpu_tdp_w.is_some(), "default: looked up from the CPU's model name"),
            ),
            (
                "rank_energy",
                self.rank_energy().label().into(),
                origin(self.rank_energy.is_some(), "default (as the paper)"),
            ),
            (
                "threads",
                self.threads.map_or_else(|| format!("all ({})", rayon::current_num_threads()), |n| n.to_string()),
                origin(self.threads.is_some(), "default: every core (rayon; RAYON_NUM_THREADS if set)"),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::load(&dir.path().join("settings.json")).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.pue(), 1.0);
        assert_eq!(s.sample_interval_ms(), 200);
        assert_eq!(s.idle_baseline_s(), 0.0);
        assert_eq!(s.cpu_tdp_w(), None);
        assert_eq!(s.rank_energy(), EnergyBasis::Gross);
        assert!(s.intensity().unwrap().source.starts_with("world average"));
    }

    #[test]
    fn settings_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("settings.json");
        let mut s = Settings::default();
        for (key, value) in [
            ("carbon_intensity", "dk"),
            ("pue", "1.58"),
            ("sample_interval_ms", "500"),
            ("idle_baseline_s", "5"),
            ("cpu_tdp_w", "65"),
            ("rank_energy", "Net"),
            ("threads", "2"),
        ] {
            s.set(key, value).unwrap();
        }
        s.save(&path).unwrap();
        let back = Settings::load(&path).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.carbon_intensity.as_deref(), Some("DK"));
        assert_eq!(back.rank_energy(), EnergyBasis::Net);
        assert!((back.intensity().unwrap().g_per_kwh - 143.3).abs() < 0.05);
        // A number stays a number in the file.
        s.set("carbon_intensity", "120.5").unwrap();
        s.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"carbon_intensity\": 120.5"), "{text}");
        assert_eq!(Settings::load(&path).unwrap().intensity().unwrap().g_per_kwh, 120.5);
        // No temporary file is left behind.
        let names: Vec<_> =
            std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [std::ffi::OsString::from("settings.json")]);
        s.unset("carbon_intensity").unwrap();
        assert_eq!(s.carbon_intensity, None);
    }

    #[test]
    fn bad_values_are_refused_naming_the_key() {
        let mut s = Settings::default();
        for (key, value) in [
            ("pue", "0.5"),
            ("pue", "abc"),
            ("sample_interval_ms", "2.5"),
            ("sample_interval_ms", "1"),
            ("idle_baseline_s", "-1"),
            ("cpu_tdp_w", "0"),
            ("cpu_tdp_w", "NaN"),
            ("rank_energy", "both"),
            ("carbon_intensity", "XQ"),
            ("threads", "0"),
            ("threads", "1.5"),
        ] {
            let e = s.set(key, value).unwrap_err();
            assert!(e.starts_with(&format!("`{key}`")), "{key}={value}: {e}");
        }
        assert_eq!(s, Settings::default(), "nothing was set");
        assert!(s.set("colour", "red").unwrap_err().contains("unknown setting"));
        assert!(s.unset("colour").is_err());
    }

    #[test]
    fn a_bad_file_names_file_and_field_and_falls_back_to_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        let cases = [
            ("{\"pue\": 0.2}", "field `pue`"),
            ("{\"pue\": 1.2, \"rank_energy\": \"sideways\"}", "field `rank_energy`"),
            ("{\"carbon_intensity\": [1]}", "field `carbon_intensity`"),
            ("{\"carbon_intensty\": \"DK\"}", "`carbon_intensty`: unknown setting"),
            ("{\"pue\": ", "not valid JSON"),
            ("[1, 2]", "expected a JSON object"),
        ];
        for (text, expected) in cases {
            std::fs::write(&path, text).unwrap();
            let e = Settings::load(&path).unwrap_err();
            assert!(e.starts_with(&path.display().to_string()) && e.contains(expected), "{text}: {e}");
            let (settings, warning) = Settings::load_or_default(&path);
            assert_eq!(settings, Settings::default());
            assert!(warning.unwrap().contains("using the default settings"));
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "the user's file is untouched");
        }
        // null means unset.
        std::fs::write(&path, "{\"pue\": null, \"cpu_tdp_w\": 95}").unwrap();
        assert_eq!(Settings::load(&path).unwrap(), Settings { cpu_tdp_w: Some(95.0), ..Settings::default() });
    }

    #[test]
    fn describe_lists_every_key_and_names_defaults() {
        let lines = Settings::default().describe();
        assert_eq!(lines.iter().map(|l| l.0).collect::<Vec<_>>(), KEYS);
        assert!(lines[0].2.contains("world average"));
        assert!(lines[1].2.contains("1.58"));
    }
}
