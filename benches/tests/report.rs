//! The report harness at its tiny scale: every workload produces its
//! tables (numbers present, units stated), its plots and the JSON.

use benches::report::{self, Cell, Scale};

#[test]
fn a_tiny_report_holds_every_workload_with_units_plots_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut steps = Vec::new();
    let result = report::run(Scale::Tiny, &[], dir.path(), &mut |s| {
        steps.push(s.to_string())
    });
    let expected: u64 = report::workloads().iter().map(|w| w.steps).sum();
    assert_eq!(steps.len() as u64, expected, "{steps:?}");
    let names: Vec<&str> = result.sections.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        report::workloads()
            .iter()
            .map(|w| w.name)
            .collect::<Vec<_>>()
    );
    for section in &result.sections {
        assert!(!section.tables.is_empty(), "{}: no table", section.name);
        // Every engine built (ours and the peers of the features on) runs
        // every phase to the end at this scale.
        for note in &section.notes {
            assert!(!note.contains("stopped early"), "{note}");
        }
        for table in &section.tables {
            assert!(
                !table.rows.is_empty(),
                "{}: empty table {}",
                section.name,
                table.caption
            );
            // Every numeric column names its unit, e.g. "lookup (ns)".
            for (i, column) in table.columns.iter().enumerate() {
                let numeric = table.rows.iter().any(|r| matches!(r[i], Cell::Num(_)));
                let counts =
                    ["bits per key", "leaves", "distinct items"].contains(&column.as_str());
                assert!(
                    !numeric || counts || column.contains('('),
                    "{}: column {column:?} has no unit",
                    section.name
                );
            }
            for row in &table.rows {
                assert_eq!(row.len(), table.columns.len(), "{}", table.caption);
                for cell in row {
                    if let Cell::Num(v) = cell {
                        assert!(v.is_finite() && *v >= 0.0, "{}: {v}", table.caption);
                    }
                }
            }
        }
        for plot in &section.plots {
            assert!(
                plot.series.iter().all(|s| !s.points.is_empty()),
                "{}",
                plot.name
            );
        }
    }

    let out = dir.path().join("report");
    report::write(&result, &out, "test").unwrap();
    let index = std::fs::read_to_string(out.join("index.md")).unwrap();
    for section in &result.sections {
        assert!(
            index.contains(&format!("## {}", section.title)),
            "{}",
            section.title
        );
        for plot in &section.plots {
            let svg = std::fs::read_to_string(out.join(format!("{}.svg", plot.name))).unwrap();
            assert!(svg.starts_with("<svg"), "{}", plot.name);
            assert!(
                svg.contains(&plot.x_label) && svg.contains(&plot.y_label),
                "{}",
                plot.name
            );
            // A categorical axis is labelled with every category's name,
            // and the legend names every series.
            for name in plot
                .categories
                .iter()
                .chain(plot.series.iter().map(|s| &s.name))
            {
                assert!(svg.contains(name.as_str()), "{}: no {name:?}", plot.name);
            }
            assert!(index.contains(&format!("({}.svg)", plot.name)));
        }
    }
    assert!(index.contains("| CPU |") && index.contains("| commit |"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(
        json["sections"].as_array().unwrap().len(),
        result.sections.len()
    );
    assert!(json["machine"]["cpu"].is_string());
}
