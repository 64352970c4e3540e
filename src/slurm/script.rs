//! The sbatch script of a job array: one array task per cell, each running `pepr train` headless on
//! its cell with the same home. The flags of every cell are written into the script itself (a `case`
//! on `$SLURM_ARRAY_TASK_ID`), so `--dry-run` shows exactly what each task will run.

use std::path::Path;

use crate::meter::MeterSettings;
use crate::meter::backend::Backend;
use crate::train::TrainConfig;

use super::SlurmOptions;
use super::jobs::{Cell, GRID_FILE};

/// The `pepr train` flags that reproduce `config` (everything but `--home`).
pub fn train_args(config: &TrainConfig) -> Vec<String> {
    let mut args = vec![
        "--arch".to_string(),
        config.arch.clone(),
        "--dataset".into(),
        config.dataset.clone(),
        "--epochs".into(),
        config.epochs.to_string(),
        "--batch-size".into(),
        config.batch_size.to_string(),
        "--lr".into(),
        config.lr.to_string(),
        "--fraction".into(),
        config.fraction.to_string(),
        "--seed".into(),
        config.seed.to_string(),
        "--metric".into(),
        config.metric.key().to_string(),
        "--backend".into(),
        match config.backend {
            Backend::Cpu => "cpu",
            Backend::Cuda => "cuda",
        }
        .into(),
    ];
    if let Some(pretrained) = &config.pretrained {
        args.extend(["--pretrained".to_string(), pretrained.clone()]);
        if config.freeze_backbone {
            args.push("--freeze-backbone".into());
        }
    }
    if let Some(group) = &config.group {
        args.extend(["--group".to_string(), group.clone()]);
    }
    if let Some(cell) = &config.grid_cell {
        args.extend(["--grid-cell".to_string(), cell.clone()]);
    }
    if let Some(n) = config.threads {
        args.extend(["--threads".to_string(), n.to_string()]);
    }
    if config.paper_conventions {
        args.push("--paper-conventions".into());
    }
    args.extend(meter_args(&config.meter));
    args
}

/// The meter flags that differ from pepr's defaults: the settings in effect where the job was
/// submitted (flags, then the home's settings file) go with every task; the power sources
/// themselves are each node's own (RAPL/NVML there, or the TDP estimate).
pub fn meter_args(meter: &MeterSettings) -> Vec<String> {
    let defaults = MeterSettings::default();
    let mut args = Vec::new();
    if meter.sample_ms != defaults.sample_ms {
        args.extend(["--sample-ms".to_string(), meter.sample_ms.to_string()]);
    }
    if meter.idle_baseline_s > 0.0 {
        args.extend(["--idle-baseline".to_string(), meter.idle_baseline_s.to_string()]);
    }
    if let Some(intensity) = &meter.carbon_intensity {
        args.extend(["--carbon-intensity".to_string(), intensity.clone()]);
    }
    if meter.pue != defaults.pue {
        args.extend(["--pue".to_string(), meter.pue.to_string()]);
    }
    if let Some(tdp) = meter.cpu_tdp_w {
        args.extend(["--cpu-tdp".to_string(), tdp.to_string()]);
    }
    if meter.powercap_root != defaults.powercap_root {
        args.extend(["--powercap-root".to_string(), meter.powercap_root.display().to_string()]);
    }
    args
}

/// Quotes a word for bash when it needs it: single quotes, with `'` written as `'\''`.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@%".contains(c));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

/// Everything the script needs to know.
pub struct ScriptInput<'a> {
    pub pepr: &'a Path,
    pub home: &'a Path,
    /// The submission's folder: task logs go here.
    pub dir: &'a Path,
    pub job_name: &'a str,
    /// The cells in array-task order (their `index` is rewritten to the position here).
    pub cells: &'a [Cell],
    pub options: &'a SlurmOptions,
    /// The experiment grid the cells come from: its spec is `grid.json` beside the script.
    pub grid: Option<&'a str>,
}

/// The sbatch script.
pub fn render(input: &ScriptInput) -> String {
    let options = input.options;
    let mut s = String::from("#!/bin/bash\n");
    let mut directive = |text: String| s.push_str(&format!("#SBATCH {text}\n"));
    directive(format!("--job-name={}", input.job_name));
    directive(format!("--array=0-{}", input.cells.len().saturating_sub(1)));
    directive(format!("--output={}", input.dir.join("task-%a.out").display()));
    directive(format!("--error={}", input.dir.join("task-%a.err").display()));
    if let Some(partition) = &options.partition {
        directive(format!("--partition={partition}"));
    }
    if let Some(n) = options.gpus_per_task {
        directive(format!("--gpus-per-task={n}"));
    }
    if let Some(n) = options.cpus_per_task {
        directive(format!("--cpus-per-task={n}"));
    }
    if let Some(time) = &options.time {
        directive(format!("--time={time}"));
    }
    if let Some(account) = &options.account {
        directive(format!("--account={account}"));
    }
    for extra in &options.extra {
        directive(extra.clone());
    }
    s.push_str(&format!(
        "#\n# Written by pepr {}: one array task per cell; the cells are listed in cells.json beside this\n\
         # script. Each task trains its cell headless and writes its record to the home's incoming/\n\
         # folder (never to runs.jsonl); `pepr merge`, `pepr jobs` and the TUI merge them.\n\
         set -u\n\
         # burn's CPU backend uses one thread per core it sees: keep to the cores Slurm gave the task.\n\
         if [ -n \"${{SLURM_CPUS_PER_TASK:-}}\" ]; then export RAYON_NUM_THREADS=\"$SLURM_CPUS_PER_TASK\"; fi\n\
         case \"${{SLURM_ARRAY_TASK_ID:?not an array task}}\" in\n",
        env!("CARGO_PKG_VERSION")
    ));
    if let Some(grid) = input.grid {
        s.push_str(&format!(
            "# The cells of experiment grid {grid}; its spec is {GRID_FILE} beside this script (and\n\
             # grids/{grid}.json in the home). `pepr grid --resume {grid} --slurm` submits the cells still missing.\n"
        ));
    }
    for (index, cell) in input.cells.iter().enumerate() {
        let args: Vec<String> = cell.args.iter().map(|a| shell_quote(a)).collect();
        s.push_str(&format!("  {index}) args=({}) ;;\n", args.join(" ")));
    }
    s.push_str("  *) echo \"pepr: this array has no cell $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\nesac\n");
    s.push_str(&format!(
        "# exec: scancel's SIGTERM reaches pepr itself, which stores the run as interrupted.\n\
         exec {} --home {} train --incoming{} \"${{args[@]}}\"\n",
        shell_quote(&input.pepr.display().to_string()),
        shell_quote(&input.home.display().to_string()),
        options
            .data_dir
            .as_ref()
            .map_or(String::new(), |d| format!(" --data-dir {}", shell_quote(&d.display().to_string())))
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_bash_specials() {
        assert_eq!(shell_quote("pepr_lenet5"), "pepr_lenet5");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn every_setting_becomes_a_flag() {
        let mut config = TrainConfig::new("resnet18", "dermamnist");
        config.epochs = 3;
        config.fraction = 0.25;
        config.pretrained = Some("run:abc".into());
        config.freeze_backbone = true;
        config.group = Some("derma pt".into());
        config.grid_cell = Some("c7".into());
        let args = train_args(&config).join(" ");
        assert_eq!(
            args,
            "--arch resnet18 --dataset dermamnist --epochs 3 --batch-size 32 --lr 0.0005 --fraction 0.25 --seed 0 \
             --metric accuracy --backend cpu --pretrained run:abc --freeze-backbone --group derma pt --grid-cell c7"
        );
    }

    #[test]
    fn meter_settings_that_differ_from_the_defaults_become_flags() {
        let mut config = TrainConfig::new("pepr_lenet5", "synthetic");
        assert!(meter_args(&config.meter).is_empty());
        config.meter.pue = 1.58;
        config.meter.carbon_intensity = Some("DE".into());
        config.meter.idle_baseline_s = 2.5;
        config.meter.sample_ms = 100;
        config.meter.cpu_tdp_w = Some(65.0);
        let args = train_args(&config).join(" ");
        assert!(
            args.ends_with("--sample-ms 100 --idle-baseline 2.5 --carbon-intensity DE --pue 1.58 --cpu-tdp 65"),
            "{args}"
        );
    }

    #[test]
    fn script_has_the_directives_and_one_case_per_cell() {
        let cells = vec![
            Cell::new(0, &TrainConfig::new("pepr_lenet5", "synthetic")),
            Cell::new(1, &TrainConfig::new("pepr_resnet8", "synthetic")),
        ];
        let options = SlurmOptions {
            partition: Some("gpu".into()),
            gpus_per_task: Some(1),
            cpus_per_task: Some(4),
            time: Some("01:00:00".into()),
            account: Some("lab".into()),
            extra: vec!["--qos=short".into()],
            ..SlurmOptions::default()
        };
        let script = render(&ScriptInput {
            pepr: Path::new("/opt/pepr"),
            home: Path::new("/shared/my home"),
            dir: Path::new("/shared/my home/slurm/s1"),
            job_name: "pepr-sweep",
            cells: &cells,
            options: &options,
            grid: None,
        });
        for line in [
            "#SBATCH --job-name=pepr-sweep",
            "#SBATCH --array=0-1",
            "#SBATCH --output=/shared/my home/slurm/s1/task-%a.out",
            "#SBATCH --error=/shared/my home/slurm/s1/task-%a.err",
            "#SBATCH --partition=gpu",
            "#SBATCH --gpus-per-task=1",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --time=01:00:00",
            "#SBATCH --account=lab",
            "#SBATCH --qos=short",
            "exec /opt/pepr --home '/shared/my home' train --incoming \"${args[@]}\"",
        ] {
            assert!(script.lines().any(|l| l == line), "missing {line:?} in\n{script}");
        }
        assert!(script.contains("  0) args=(--arch pepr_lenet5 --dataset synthetic "));
        assert!(script.contains("  1) args=(--arch pepr_resnet8 --dataset synthetic "));
    }
}
