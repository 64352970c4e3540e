//! Rejects training settings no run can use, before anything loads or trains.

use anyhow::{Result, anyhow, bail};

use super::TrainConfig;

/// Rejects settings no run can use, naming the command-line flag.
pub fn check(config: &TrainConfig) -> Result<()> {
    crate::catalog::find(&config.arch).ok_or_else(|| anyhow!(crate::catalog::unknown_architecture(&config.arch)))?;
    if config.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    if config.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    if !(config.lr.is_finite() && config.lr > 0.0) {
        bail!("--lr must be a positive number, got {}", config.lr);
    }
    if !(config.fraction > 0.0 && config.fraction <= 1.0) {
        bail!("--fraction must be in (0, 1], got {}", config.fraction);
    }
    super::threads::check(config.threads)?;
    // The group is printed and stored like an imported name: no control characters, a sane length.
    if let Some(group) = &config.group {
        crate::text::check_name("--group", group).map_err(|e| anyhow!(e))?;
    }
    Ok(())
}
