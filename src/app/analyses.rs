//! The Analyses screen's state: which of the paper's three analyses is shown, for which pair,
//! family or group, and how the paired table is sorted. The analyses themselves are computed on a
//! worker thread (see `event_loop`) and arrive with [`AnalysesScreen::on_result`].

use crossterm::event::{KeyCode, KeyEvent};

use crate::results::analysis::{Analyses, Paired, PairedRow};
use crate::results::rank::{EnergyBasis, Variant, cmp_missing_last};
use crate::results::record::RunRecord;
use crate::results::view::matches_filter;

/// Writes an analysis's figure and table into `dir` as `STEM.svg` and `STEM.csv` (each under a
/// temporary name, then renamed); returns both paths.
pub fn write_export(
    dir: &std::path::Path,
    figure: &crate::plot::Figure,
    csv: &str,
    stem: &str,
) -> Result<Vec<std::path::PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    let svg = crate::plot::write(figure, &dir.join(format!("{stem}.svg"))).map_err(|e| format!("{e:#}"))?;
    let table = dir.join(format!("{stem}.csv"));
    crate::slurm::jobs::write_atomic(&table, csv.as_bytes()).map_err(|e| format!("{e:#}"))?;
    Ok(vec![svg, table])
}

/// The three analyses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AnalysisView {
    /// Pretrained vs scratch, paired by architecture.
    #[default]
    Pretrained,
    /// P and PePR against the share of training data.
    Fraction,
    /// PePR against parameter count.
    Params,
}

impl AnalysisView {
    pub const ALL: [AnalysisView; 3] = [AnalysisView::Pretrained, AnalysisView::Fraction, AnalysisView::Params];

    pub fn title(self) -> &'static str {
        match self {
            AnalysisView::Pretrained => "pretrained vs scratch",
            AnalysisView::Fraction => "P and PePR vs data fraction",
            AnalysisView::Params => "PePR vs parameters",
        }
    }

    fn step(self, forward: bool) -> AnalysisView {
        let i = AnalysisView::ALL.iter().position(|v| *v == self).unwrap_or(0);
        AnalysisView::ALL[if forward { (i + 1) % 3 } else { (i + 2) % 3 }]
    }
}

/// Columns of the paired table (the resource ones follow the PePR variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PairedColumn {
    #[default]
    Arch,
    PScratch,
    PPretrained,
    DeltaP,
    RScratch,
    RPretrained,
    DeltaR,
    RatioR,
}

impl PairedColumn {
    pub const ALL: [PairedColumn; 8] = [
        PairedColumn::Arch,
        PairedColumn::PScratch,
        PairedColumn::PPretrained,
        PairedColumn::DeltaP,
        PairedColumn::RScratch,
        PairedColumn::RPretrained,
        PairedColumn::DeltaR,
        PairedColumn::RatioR,
    ];

    fn step(self, forward: bool) -> PairedColumn {
        let i = PairedColumn::ALL.iter().position(|c| *c == self).unwrap_or(0);
        let n = PairedColumn::ALL.len();
        PairedColumn::ALL[if forward { (i + 1) % n } else { (i + n - 1) % n }]
    }

    /// Differences sort largest first; names and raw values smallest first.
    fn descending_by_default(self) -> bool {
        matches!(self, PairedColumn::DeltaP)
    }

    fn value(self, row: &PairedRow, v: Variant) -> Option<f64> {
        match self {
            PairedColumn::Arch => None,
            PairedColumn::PScratch => Some(row.p_scratch),
            PairedColumn::PPretrained => Some(row.p_pretrained),
            PairedColumn::DeltaP => Some(row.dp()),
            PairedColumn::RScratch => row.r_scratch[v.index()],
            PairedColumn::RPretrained => row.r_pretrained[v.index()],
            PairedColumn::DeltaR => row.dr(v),
            PairedColumn::RatioR => row.r_ratio(v),
        }
    }
}

/// Work for the event loop: compute the analyses of these records on a worker thread.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalyzeRequest {
    pub generation: u64,
    pub records: Vec<RunRecord>,
    /// The leaderboard's filter: only the runs it keeps are analysed.
    pub filter: String,
}

impl AnalyzeRequest {
    /// The analyses of the runs the filter keeps (on the worker thread).
    pub fn run(&self, energy: EnergyBasis) -> Result<Analyses, String> {
        let needle = self.filter.to_lowercase();
        crate::results::analysis::analyze_where(&self.records, energy, &|r| matches_filter(r, &needle))
            .map_err(|e| format!("{e:#}"))
    }
}

#[derive(Debug, Default)]
pub struct AnalysesScreen {
    pub view: AnalysisView,
    pub variant: Variant,
    /// The latest analyses, or why they failed.
    pub result: Option<Result<Analyses, String>>,
    /// An analysis is running on a worker thread.
    pub computing: bool,
    /// The store was reloaded (or the filter changed) since the result was computed.
    pub stale: bool,
    /// The filter of the latest request (the leaderboard's `/`).
    pub filter: String,
    generation: u64,
    /// Which pair (view a), family (b) or group (c) is shown.
    pub pair_index: usize,
    pub family_index: usize,
    pub group_index: usize,
    pub sort: PairedColumn,
    pub reversed: bool,
    /// The paired view shows its chart (dP against the resource difference) instead of the table.
    pub chart: bool,
    /// The selected row of `rows` and the first one shown.
    pub cursor: super::list::ListCursor,
    /// Indices into the current pair's rows, in display order.
    rows: Vec<usize>,
}

impl AnalysesScreen {
    /// A request for fresh analyses when there are none yet or the store changed; `None` while
    /// one is already running.
    pub fn request(&mut self, records: &[RunRecord], filter: &str) -> Option<AnalyzeRequest> {
        if self.computing || (self.result.is_some() && !self.stale) {
            return None;
        }
        self.computing = true;
        self.generation += 1;
        self.filter = filter.to_string();
        Some(AnalyzeRequest { generation: self.generation, records: records.to_vec(), filter: filter.to_string() })
    }

    /// The worker's answer; an answer to an older request is dropped.
    pub fn on_result(&mut self, generation: u64, result: Result<Analyses, String>) {
        if generation != self.generation {
            return;
        }
        self.computing = false;
        self.stale = false;
        if let Ok(analyses) = &result {
            self.pair_index = self.pair_index.min(analyses.paired.len().saturating_sub(1));
            self.family_index = self.family_index.min(analyses.families.len().saturating_sub(1));
            self.group_index = self.group_index.min(analyses.params.len().saturating_sub(1));
        }
        self.result = Some(result);
        self.refresh_rows();
    }

    pub fn analyses(&self) -> Option<&Analyses> {
        self.result.as_ref()?.as_ref().ok()
    }

    pub fn current_pair(&self) -> Option<&Paired> {
        self.analyses()?.paired.get(self.pair_index)
    }

    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    pub fn descending(&self) -> bool {
        self.sort.descending_by_default() != self.reversed
    }

    fn refresh_rows(&mut self) {
        let Some(pair) = self.current_pair() else {
            self.rows.clear();
            return;
        };
        let (v, descending) = (self.variant, self.descending());
        let column = self.sort;
        let mut rows: Vec<usize> = (0..pair.rows.len()).collect();
        rows.sort_by(|&a, &b| {
            let (ra, rb) = (&pair.rows[a], &pair.rows[b]);
            let order = match column {
                PairedColumn::Arch if descending => rb.arch.cmp(&ra.arch),
                PairedColumn::Arch => ra.arch.cmp(&rb.arch),
                _ => cmp_missing_last(column.value(ra, v), column.value(rb, v), descending),
            };
            order.then_with(|| ra.arch.cmp(&rb.arch))
        });
        self.rows = rows;
        self.cursor.clamp(self.rows.len());
    }

    fn count(&self) -> usize {
        let Some(a) = self.analyses() else { return 0 };
        match self.view {
            AnalysisView::Pretrained => a.paired.len(),
            AnalysisView::Fraction => a.families.len(),
            AnalysisView::Params => a.params.len(),
        }
    }

    fn step_set(&mut self, forward: bool) {
        let n = self.count();
        if n == 0 {
            return;
        }
        let index = match self.view {
            AnalysisView::Pretrained => &mut self.pair_index,
            AnalysisView::Fraction => &mut self.family_index,
            AnalysisView::Params => &mut self.group_index,
        };
        *index = if forward { (*index + 1) % n } else { (*index + n - 1) % n };
        self.cursor.reset();
        self.refresh_rows();
    }

    /// Applies a key of this screen (see `keys::ANALYSES`; the app handles `R` and `P`). Every
    /// analysis is computed already: no key here asks the event loop for anything.
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<super::request::Request> {
        use super::keys::{ANALYSES, AnalysesAction as A, Key, lookup};
        let action = lookup(ANALYSES, Key::of(key))?;
        let paired = self.view == AnalysisView::Pretrained;
        match action {
            A::NextAnalysis => self.view = self.view.step(true),
            A::PrevAnalysis => self.view = self.view.step(false),
            A::NextSet => self.step_set(true),
            A::PrevSet => self.step_set(false),
            A::Variant => match key.code {
                KeyCode::Char('c') => self.set_variant(Variant::Co2),
                KeyCode::Char('t') => self.set_variant(Variant::Time),
                KeyCode::Char('m') => self.set_variant(Variant::Memory),
                _ => self.set_variant(Variant::Energy),
            },
            A::NextVariant => self.set_variant(self.variant.next()),
            A::Chart if paired => self.chart = !self.chart,
            A::Back if self.chart => self.chart = false,
            A::SortNext | A::SortPrev if paired => {
                self.sort = self.sort.step(action == A::SortNext);
                self.reversed = false;
                self.refresh_rows();
            }
            A::Reverse if paired => {
                self.reversed = !self.reversed;
                self.refresh_rows();
            }
            A::Move(m) => {
                self.cursor.apply(m, self.rows.len());
            }
            A::Chart | A::Back | A::SortNext | A::SortPrev | A::Reverse | A::Reload | A::Export => {}
        }
        None
    }

    fn set_variant(&mut self, variant: Variant) {
        self.variant = variant;
        self.refresh_rows();
    }
}
