//! `pepr config show | set | unset`: the settings in the home's settings.json.

use anyhow::Result;

use super::args::ConfigCommand;
use crate::home::Home;
use crate::settings::Settings;

/// `pepr config show|set|unset`. Show falls back to the defaults over a bad file (with a warning);
/// set and unset refuse to write over a file they could not read.
pub(super) fn run(home: &Home, command: ConfigCommand) -> Result<()> {
    let path = home.settings_file();
    match command {
        ConfigCommand::Show => {
            let (settings, warning) = Settings::load_or_default(&path);
            if let Some(warning) = warning {
                eprintln!("warning: {warning}");
            }
            let state = if path.exists() { "" } else { " (not created yet: every key has its default)" };
            println!("settings file: {}{state}", path.display());
            for (key, value, origin) in settings.describe() {
                println!("{key:<19}{value:<22}{origin}");
            }
            if settings.carbon_intensity.is_none() {
                println!("(set your grid's intensity with `pepr config set carbon_intensity CODE`, e.g. DK or 120)");
            }
            if settings.cpu_tdp_w().is_none() {
                let model = crate::meter::tdp::this_cpu_model();
                let tdp = model.as_deref().and_then(crate::meter::tdp::lookup);
                match (model, tdp) {
                    (Some(_), Some(tdp)) => println!(
                        "this CPU: {:.1} W, {}: {} (set cpu_tdp_w to give its real TDP)",
                        tdp.watts,
                        tdp.step.label(),
                        tdp.source
                    ),
                    (Some(model), None) => {
                        println!("this CPU ({model}) has no vendor pepr knows: set cpu_tdp_w for the estimate")
                    }
                    (None, _) => println!("this CPU's model name is unknown (no /proc/cpuinfo): set cpu_tdp_w"),
                }
            }
            Ok(())
        }
        ConfigCommand::Set { key, value } => {
            let mut settings =
                Settings::load(&path).map_err(|e| anyhow::anyhow!("{e}; fix or remove the file first"))?;
            settings.set(&key, &value).map_err(|e| anyhow::anyhow!("{e}"))?;
            settings.save(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
            let (_, value, origin) = settings.describe().into_iter().find(|(k, _, _)| *k == key).expect("a known key");
            println!("{key} = {value} ({origin})");
            Ok(())
        }
        ConfigCommand::Unset { key } => {
            let mut settings =
                Settings::load(&path).map_err(|e| anyhow::anyhow!("{e}; fix or remove the file first"))?;
            settings.unset(&key).map_err(|e| anyhow::anyhow!("{e}"))?;
            if path.exists() {
                settings.save(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            println!("{key}: back to its default");
            Ok(())
        }
    }
}
