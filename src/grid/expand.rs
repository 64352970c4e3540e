//! The grid's cross product: one [`Cell`] per dataset x start x fraction x architecture x seed, in
//! that order (so the cells of one comparison group run together).

use super::spec::GridSpec;
use crate::results::groups::cell_id;
use crate::train::TrainConfig;

/// One run of the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Stable across runs and machines, e.g. `derma/resnet18/pt/f0.1/s2`.
    pub id: String,
    /// The comparison group, after renames.
    pub group: String,
    /// Everything the run needs; `group` and `grid_cell` are set, so the record carries both.
    pub config: TrainConfig,
}

impl Cell {
    /// The `pepr train` arguments (after the program name) that run this cell on its own, e.g. as
    /// one task of a Slurm job array; the stored run carries the cell's group and id.
    pub fn train_args(&self) -> Vec<String> {
        let c = &self.config;
        let mut args: Vec<String> = vec![
            "train".into(),
            "--arch".into(),
            c.arch.clone(),
            "--dataset".into(),
            c.dataset.clone(),
            "--epochs".into(),
            c.epochs.to_string(),
            "--batch-size".into(),
            c.batch_size.to_string(),
            "--lr".into(),
            c.lr.to_string(),
            "--fraction".into(),
            c.fraction.to_string(),
            "--seed".into(),
            c.seed.to_string(),
            "--metric".into(),
            c.metric.key().into(),
            "--backend".into(),
            match c.backend {
                crate::meter::backend::Backend::Cpu => "cpu".into(),
                crate::meter::backend::Backend::Cuda => "cuda".into(),
            },
        ];
        if let Some(source) = &c.pretrained {
            args.extend(["--pretrained".into(), source.clone()]);
            if c.freeze_backbone {
                args.push("--freeze-backbone".into());
            }
        }
        args.extend(["--group".into(), self.group.clone(), "--grid-cell".into(), self.id.clone()]);
        if let Some(n) = c.threads {
            args.extend(["--threads".into(), n.to_string()]);
        }
        if c.paper_conventions {
            args.push("--paper-conventions".into());
        }
        args
    }
}

/// Every cell of a (validated) spec.
pub fn expand(spec: &GridSpec) -> Vec<Cell> {
    let metric = spec.train.metric().unwrap_or_default();
    let backend = spec.train.backend().unwrap_or_default();
    let mut cells = Vec::new();
    for dataset in &spec.datasets {
        for start in &spec.starts {
            let pretrained = start.source().map(str::to_string);
            for &fraction in &spec.fractions {
                let group = spec.group_name(&spec.templated_group(dataset, pretrained.is_some(), fraction));
                for arch in &spec.archs {
                    for &seed in &spec.seeds {
                        let id = cell_id(dataset, arch, pretrained.is_some(), fraction, seed);
                        let config = TrainConfig {
                            epochs: spec.train.epochs,
                            batch_size: spec.train.batch_size,
                            lr: spec.train.lr,
                            fraction,
                            seed,
                            metric,
                            backend,
                            pretrained: pretrained.clone(),
                            freeze_backbone: pretrained.is_some() && spec.train.freeze_backbone,
                            group: Some(group.clone()),
                            grid_cell: Some(id.clone()),
                            threads: spec.train.threads,
                            ..TrainConfig::new(arch.as_str(), dataset.as_str())
                        };
                        cells.push(Cell { id, group: group.clone(), config });
                    }
                }
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::spec::Start;

    fn spec() -> GridSpec {
        let mut spec =
            GridSpec::new(vec!["pepr_lenet5".into(), "resnet18".into()], vec!["derma".into(), "synthetic".into()]);
        spec.starts = vec![Start::Scratch, Start::Pretrained("imagenet".into())];
        spec.fractions = vec![1.0, 0.1];
        spec.seeds = vec![0, 1, 2];
        spec
    }

    #[test]
    fn the_cross_product_in_group_order() {
        let cells = expand(&spec());
        assert_eq!(cells.len(), 2 * 2 * 2 * 2 * 3);
        let ids: std::collections::HashSet<&str> = cells.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids.len(), cells.len(), "ids are unique");
        assert_eq!(cells[0].id, "derma/pepr_lenet5/scratch/f1/s0");
        assert_eq!(cells[0].group, "derma");
        assert_eq!(cells[5].id, "derma/resnet18/scratch/f1/s2");
        assert_eq!(cells[6].id, "derma/pepr_lenet5/scratch/f0.1/s0");
        assert_eq!(cells[6].group, "derma_small");
        assert_eq!(cells[12].id, "derma/pepr_lenet5/pt/f1/s0");
        assert_eq!(cells[12].group, "derma_pt");
        assert_eq!(cells[12].config.pretrained.as_deref(), Some("imagenet"));
        assert_eq!(cells[23].id, "derma/resnet18/pt/f0.1/s2");
        assert_eq!(cells[23].group, "derma_pt_small");
        assert_eq!(cells[24].id, "synthetic/pepr_lenet5/scratch/f1/s0");
        let groups: Vec<&str> = cells.iter().map(|c| c.group.as_str()).collect();
        let mut distinct = groups.clone();
        distinct.dedup();
        assert_eq!(
            distinct,
            ["derma", "derma_small", "derma_pt", "derma_pt_small", "synthetic", "synthetic_small", "synthetic_pt"]
                .iter()
                .chain(&["synthetic_pt_small"])
                .copied()
                .collect::<Vec<_>>()
        );
        for cell in &cells {
            assert_eq!(cell.config.grid_cell.as_deref(), Some(cell.id.as_str()));
            assert_eq!(cell.config.group.as_deref(), Some(cell.group.as_str()));
            assert_eq!(cell.config.epochs, TrainConfig::DEFAULT_EPOCHS);
        }
    }

    #[test]
    fn renames_and_shared_settings_reach_every_cell() {
        let mut spec = spec();
        spec.group_names.insert("derma_pt_small".into(), "derma_small_pt".into());
        spec.train.epochs = 3;
        spec.train.freeze_backbone = true;
        spec.validate().unwrap();
        let cells = expand(&spec);
        let renamed: Vec<&Cell> = cells.iter().filter(|c| c.group == "derma_small_pt").collect();
        assert_eq!(renamed.len(), 2 * 3);
        assert!(renamed.iter().all(|c| c.id.starts_with("derma/") && c.id.contains("/pt/f0.1/")));
        assert!(!cells.iter().any(|c| c.group == "derma_pt_small"));
        assert!(cells.iter().all(|c| c.config.epochs == 3));
        // Only pretrained cells freeze their backbone.
        assert!(cells.iter().all(|c| c.config.freeze_backbone == c.config.pretrained.is_some()));
    }

    #[test]
    fn a_template_names_the_groups_and_may_merge_them() {
        let mut spec = spec();
        spec.group_template = Some("{dataset}-{start}".into());
        spec.validate().unwrap();
        let cells = expand(&spec);
        let groups: std::collections::BTreeSet<&str> = cells.iter().map(|c| c.group.as_str()).collect();
        assert_eq!(
            groups.into_iter().collect::<Vec<_>>(),
            ["derma-pt", "derma-scratch", "synthetic-pt", "synthetic-scratch"]
        );
        spec.group_template = Some("{dataset} {f}".into());
        assert!(spec.validate().unwrap_err().contains("field `group_template`"));
    }

    #[test]
    fn a_cell_as_train_arguments() {
        let mut spec = spec();
        spec.train.freeze_backbone = true;
        let cells = expand(&spec);
        let args = cells[23].train_args().join(" ");
        assert_eq!(
            args,
            "train --arch resnet18 --dataset derma --epochs 10 --batch-size 32 --lr 0.0005 --fraction 0.1 --seed 2 \
             --metric accuracy --backend cpu --pretrained imagenet --freeze-backbone --group derma_pt_small \
             --grid-cell derma/resnet18/pt/f0.1/s2"
        );
        assert!(!cells[0].train_args().contains(&"--pretrained".to_string()));
    }

    #[test]
    fn a_single_cell_grid() {
        let spec = GridSpec::new(vec!["pepr_lenet5".into()], vec!["synthetic".into()]);
        let cells = expand(&spec);
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].id, "synthetic/pepr_lenet5/scratch/f1/s0");
        assert_eq!(cells[0].group, "synthetic");
        assert_eq!(cells[0].config.pretrained, None);
    }
}
