//! Rated power (TDP) of common CPUs, for the "TDP x load" estimate where no power counter is readable.
//!
//! The table `assets/cpu_tdp.csv` is derived from codecarbon's `cpu_power.csv` (see assets/README.md).
//! TDP is per package. A VM that sees a few vCPUs of a big server CPU gets a share of it:
//! TDP x (logical CPUs visible / the CPU's thread count) when the table knows the thread count
//! (AMD's spec sheets), x (visible / cores) when it knows only cores (Intel's ARK scrape: for a
//! Hyper-Threading CPU this counts each visible logical CPU as a whole core, up to 2x high), and
//! the whole TDP when it knows neither. The source string always says which.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("../../assets/cpu_tdp.csv");
const TABLE_NAME: &str = "codecarbon cpu_power.csv";

/// A CPU's rated power for the estimate, and how it was arrived at.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuTdp {
    pub watts: f64,
    pub source: String,
}

#[derive(Clone, Debug, serde::Deserialize)]
struct Row {
    name: String,
    tdp_w: f64,
    cores: Option<u32>,
    threads: Option<u32>,
}

struct Table {
    rows: Vec<Row>,
    by_name: HashMap<String, usize>,
}

fn table() -> &'static Table {
    static CELL: OnceLock<Table> = OnceLock::new();
    CELL.get_or_init(|| {
        let rows: Vec<Row> = csv::Reader::from_reader(TABLE.as_bytes())
            .deserialize()
            .enumerate()
            .map(|(i, row)| row.unwrap_or_else(|e| panic!("assets/cpu_tdp.csv line {}: {e}", i + 2)))
            .collect();
        let by_name = rows.iter().enumerate().map(|(i, r)| (normalise(&r.name), i)).collect();
        Table { rows, by_name }
    })
}

/// Reduces a /proc/cpuinfo "model name" or a table name to the words that identify the model:
/// lower case, without trademarks, "CPU", "Processor", the clock, the core count AMD appends,
/// the integrated graphics, and the "12th Gen" Intel prepends.
pub fn normalise(name: &str) -> String {
    let name = name.replace("(R)", " ").replace("(r)", " ").replace("(TM)", " ").replace("(tm)", " ");
    let name = name.replace(['®', '™'], " ");
    let lower = name.to_ascii_lowercase();
    let lower = lower.split(" @ ").next().unwrap_or("");
    let lower = lower.split(" with ").next().unwrap_or("");
    let words: Vec<&str> = lower
        .split_whitespace()
        .filter(|w| !matches!(*w, "cpu" | "processor" | "gen"))
        .filter(|w| !(w.ends_with("-core") && w[..w.len() - 5].chars().all(|c| c.is_ascii_digit())))
        .filter(|w| {
            !(w.ends_with("th") || w.ends_with("nd") || w.ends_with("rd") || w.ends_with("st")) || !starts_digit(w)
        })
        .collect();
    words.join(" ")
}

fn starts_digit(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Looks a CPU model name up, scaled to the logical CPUs this process can use.
pub fn lookup(cpu_model: &str) -> Option<CpuTdp> {
    let visible = std::thread::available_parallelism().map_or(1, |n| n.get());
    lookup_with(cpu_model, visible)
}

/// Looks a CPU model name up and scales the package's TDP to `visible_cpus` logical CPUs.
/// A model the table does not hold gives `None` (the user can set `cpu_tdp_w`), except an AMD
/// EPYC or Ryzen whose model number the machine hides, which gets the family's median watts per
/// thread, named as such.
pub fn lookup_with(cpu_model: &str, visible_cpus: usize) -> Option<CpuTdp> {
    let key = normalise(cpu_model);
    let t = table();
    if let Some(&i) = t.by_name.get(&key) {
        return Some(scaled(&t.rows[i], visible_cpus));
    }
    family_estimate(&key, visible_cpus)
}

fn scaled(row: &Row, visible: usize) -> CpuTdp {
    let base = format!("{}: TDP {} W ({TABLE_NAME})", row.name, row.tdp_w);
    let (watts, how) = match (row.threads, row.cores) {
        (Some(threads), _) if threads > 0 => {
            (row.tdp_w * visible as f64 / threads as f64, format!("x {visible}/{threads} logical CPUs visible"))
        }
        (_, Some(cores)) if cores > 0 => (
            row.tdp_w * visible as f64 / cores as f64,
            format!("x {visible}/{cores} (visible CPUs / cores: the table has no thread count)"),
        ),
        _ => (row.tdp_w, "not scaled (the table has no core or thread count for it)".to_string()),
    };
    CpuTdp { watts, source: format!("{base} {how}") }
}

/// Families whose spec sheets give thread counts, so a per-thread median means something.
const FAMILIES: [(&str, &str); 3] =
    [("amd ryzen threadripper", "AMD Ryzen Threadripper"), ("amd epyc", "AMD EPYC"), ("amd ryzen", "AMD Ryzen")];

fn family_estimate(key: &str, visible: usize) -> Option<CpuTdp> {
    let (prefix, label) =
        FAMILIES.iter().find(|(prefix, _)| key == *prefix || key.starts_with(&format!("{prefix} ")))?;
    let mut per_thread: Vec<f64> = table()
        .rows
        .iter()
        .filter(|r| {
            let n = normalise(&r.name);
            n.starts_with(&format!("{prefix} ")) && (*prefix != "amd ryzen" || !n.starts_with("amd ryzen threadripper"))
        })
        .filter_map(|r| r.threads.filter(|&t| t > 0).map(|t| r.tdp_w / t as f64))
        .collect();
    if per_thread.is_empty() {
        return None;
    }
    per_thread.sort_by(f64::total_cmp);
    let n = per_thread.len();
    let median = if n % 2 == 1 { per_thread[n / 2] } else { (per_thread[n / 2 - 1] + per_thread[n / 2]) / 2.0 };
    Some(CpuTdp {
        watts: median * visible as f64,
        source: format!(
            "model not in the table ({key:?}): median TDP per thread of {n} {label} models in {TABLE_NAME} \
             ({median:.2} W) x {visible} logical CPUs visible"
        ),
    })
}

/// This machine's CPU model name, from /proc/cpuinfo (Linux); `None` elsewhere.
pub fn this_cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    model_name(&text)
}

/// The first "model name" line of a /proc/cpuinfo text.
pub fn model_name(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn proc_cpuinfo_names_normalise_to_the_table_names() {
        assert_eq!(normalise("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"), "intel xeon platinum 8375c");
        assert_eq!(normalise("AMD EPYC 7763 64-Core Processor"), "amd epyc 7763");
        assert_eq!(normalise("AMD Ryzen 7 5800X 8-Core Processor"), "amd ryzen 7 5800x");
        assert_eq!(normalise("12th Gen Intel(R) Core(TM) i7-12700H"), "intel core i7-12700h");
        assert_eq!(normalise("AMD Ryzen 7 5800H with Radeon Graphics"), "amd ryzen 7 5800h");
        assert_eq!(normalise("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz"), "intel xeon e5-2686 v4");
    }

    #[test]
    fn real_model_names_resolve_and_scale_to_the_visible_cpus() {
        // AMD's spec sheet gives 64 cores / 128 threads for the EPYC 7763 (280 W).
        let epyc = lookup_with("AMD EPYC 7763 64-Core Processor", 2).unwrap();
        assert!(close(epyc.watts, 280.0 * 2.0 / 128.0), "{epyc:?}");
        assert!(epyc.source.contains("280 W") && epyc.source.contains("2/128 logical CPUs"), "{}", epyc.source);
        // A bare-metal desktop sees all 16 threads: the whole TDP.
        let ryzen = lookup_with("AMD Ryzen 7 5800X 8-Core Processor", 16).unwrap();
        assert!(close(ryzen.watts, 105.0), "{ryzen:?}");
        // An AWS Xeon: the table has its TDP but no core or thread count, so it is not scaled, and says so.
        let xeon = lookup_with("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 4).unwrap();
        assert!(close(xeon.watts, 300.0), "{xeon:?}");
        assert!(xeon.source.contains("not scaled"), "{}", xeon.source);
        // Intel's ARK scrape gives cores only: the i7-8700K has 6.
        let core = lookup_with("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", 12).unwrap();
        assert!(close(core.watts, 95.0 * 12.0 / 6.0), "{core:?}");
        assert!(core.source.contains("no thread count"), "{}", core.source);
    }

    #[test]
    fn a_hidden_amd_model_gets_the_family_median_and_an_unknown_cpu_nothing() {
        // GCP's EPYC 7B13 is a custom part codecarbon does not list; our VMs report just "AMD EPYC".
        for name in ["AMD EPYC 7B13 64-Core Processor", "AMD EPYC"] {
            let tdp = lookup_with(name, 2).unwrap();
            assert!(tdp.source.contains("median TDP per thread") && tdp.source.contains("AMD EPYC"), "{tdp:?}");
            assert!(tdp.watts > 1.0 && tdp.watts < 10.0, "2 EPYC threads: {tdp:?}");
        }
        assert_eq!(lookup_with("Imaginary CPU 9000", 8), None);
        assert_eq!(lookup_with("Intel(R) Xeon(R) CPU @ 2.20GHz", 8), None, "no Intel family median: no thread counts");
    }

    #[test]
    fn model_name_is_read_from_cpuinfo_text() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7763 64-Core Processor\n";
        assert_eq!(model_name(text).as_deref(), Some("AMD EPYC 7763 64-Core Processor"));
        assert_eq!(model_name("processor : 0\n"), None);
    }

    #[test]
    fn the_table_parses() {
        let t = table();
        assert!(t.rows.len() > 1000);
        assert!(t.rows.iter().all(|r| r.tdp_w > 0.0 && r.tdp_w < 1000.0));
    }
}
