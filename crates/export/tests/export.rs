//! End-to-end tests of the export pipeline against a SQLite file in a temporary directory: every
//! format reads back with an independent reader, files are atomic (nothing left behind after a
//! failure or a cancellation), checksums and summaries are right.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMillisecondType};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, TimeZone, Utc};
use domain::indicators::latest;
use domain::{Bar, Interval, ProviderId, Symbol};
use domain::{Rating, ResearchNote};
use export::{
    ExportError, ExportFormat, ExportOutput, ExportProgress, ExportRequest, NoteSummary, TEMP_PREFIX,
    clean_stray_temp_files, export_to_file, write_notes_csv, write_summary_csv,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};
use storage::{BarQuery, DatabaseConfig, Storage, Stored};
use tempfile::TempDir;

const EVIL_FLAG: &str = "=HYPERLINK(\"http://evil.example/x\",\"click\")";

struct Db {
    dir: TempDir,
    storage: Storage,
}

async fn db() -> Db {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let config =
        DatabaseConfig { max_connections: Some(4), acquire_timeout_secs: 10, ..DatabaseConfig::default() };
    let storage = Storage::connect(&url, &config).await.expect("connect");
    storage.migrate().await.expect("migrate");
    Db { dir, storage }
}

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).expect("valid symbol")
}

fn day(i: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(i)
}

/// `n` daily bars with a wiggle, some missing values (never 0) and one flagged bar.
fn series(n: i64, base: f64, provider: ProviderId) -> Vec<Bar> {
    (0..n)
        .map(|i| {
            let x = i as f64;
            let close = base + 5.0 * (x / 5.0).sin() + x * 0.05;
            Bar {
                ts: day(i),
                open: Some(close - 0.25),
                high: (i % 9 != 4).then_some(close + 1.5),
                low: Some(close - 1.5),
                close: (i % 23 != 7).then_some(close),
                adj_close: (i % 2 == 0).then_some(close * 0.98),
                volume: (i % 5 != 1).then_some(1_000 + i),
                provider,
                partial: i == n - 1,
                flag: (i == 3).then(|| EVIL_FLAG.to_owned()),
            }
        })
        .collect()
}

/// A database with AAPL (60 bars, one provider) and MSFT (40 days from two providers: Yahoo's
/// stay, the sample's days only count as disagreements).
async fn sample_db() -> (Db, Vec<Symbol>) {
    let db = db().await;
    let aapl = sym("AAPL");
    let msft = sym("MSFT");
    db.storage
        .upsert_bars(&aapl, Interval::Day1, &series(60, 150.0, ProviderId::Yahoo), &Default::default())
        .await
        .unwrap();
    db.storage
        .upsert_bars(&msft, Interval::Day1, &series(40, 300.0, ProviderId::Yahoo), &Default::default())
        .await
        .unwrap();
    db.storage
        .upsert_bars(&msft, Interval::Day1, &series(40, 310.0, ProviderId::Sample), &Default::default())
        .await
        .unwrap();
    (db, vec![aapl, msft])
}

fn request(symbols: &[Symbol], format: ExportFormat) -> ExportRequest {
    ExportRequest {
        symbols: symbols.to_vec(),
        interval: Interval::Day1,
        from: None,
        to: None,
        format,
        notes: Vec::new(),
    }
}

/// The bars of `symbols` as storage returns them, in export order.
async fn stored(storage: &Storage, symbols: &[Symbol]) -> Vec<(Symbol, Bar)> {
    let mut rows = Vec::new();
    for symbol in symbols {
        for bar in storage.bars(&BarQuery::new(symbol.clone(), Interval::Day1)).await.unwrap() {
            rows.push((symbol.clone(), bar));
        }
    }
    rows
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(TEMP_PREFIX))
        .collect()
}

fn check_output(output: &ExportOutput, expected_rows: usize) {
    let bytes = fs::read(&output.path).unwrap();
    assert_eq!(output.bytes, bytes.len() as u64);
    assert_eq!(output.sha256, hex::encode(Sha256::digest(&bytes)), "sha256 of the file");
    assert_eq!(output.rows, expected_rows as u64);
    assert!(temp_files(output.path.parent().unwrap()).is_empty(), "no temporary file left");
}

fn parse_cell(text: &str) -> Option<f64> {
    (!text.is_empty()).then(|| text.parse().expect("a number"))
}

#[tokio::test]
async fn csv_round_trips_with_empty_cells_and_neutralised_text() {
    let (db, symbols) = sample_db().await;
    let dest = db.dir.path().join("bars.csv");
    let output =
        export_to_file(&db.storage, &request(&symbols, ExportFormat::Csv), &dest, None).await.unwrap();
    let expected = stored(&db.storage, &symbols).await;
    check_output(&output, expected.len());

    let mut reader = csv::Reader::from_path(&dest).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "symbol",
            "interval",
            "date",
            "open",
            "high",
            "low",
            "close",
            "adj_close",
            "volume",
            "provider",
            "partial",
            "flag"
        ]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), expected.len());
    let mut saw_missing = false;
    for (record, (symbol, bar)) in records.iter().zip(&expected) {
        assert_eq!(&record[0], symbol.as_str());
        assert_eq!(&record[1], "1d");
        assert_eq!(&record[2], bar.date().to_string(), "a trading day is a date");
        let values = [bar.open, bar.high, bar.low, bar.close, bar.adj_close];
        for (i, value) in values.into_iter().enumerate() {
            assert_eq!(parse_cell(&record[3 + i]), value, "column {} of {record:?}", 3 + i);
            saw_missing |= value.is_none();
            assert_ne!(&record[3 + i], "0", "a missing value is empty, never 0");
        }
        let volume = (!record[8].is_empty()).then(|| record[8].parse::<i64>().expect("an integer volume"));
        assert_eq!(volume, bar.volume, "volume is a whole number: {:?}", &record[8]);
        assert_eq!(&record[9], bar.provider.as_str());
        assert_eq!(&record[10], if bar.partial { "true" } else { "false" });
        match &bar.flag {
            Some(flag) => {
                assert_eq!(&record[11], format!("'{flag}"), "formula neutralised");
                assert!(!record[11].starts_with('='));
            }
            None => assert_eq!(&record[11], ""),
        }
    }
    assert!(saw_missing);
    assert!(expected.iter().any(|(_, bar)| bar.partial));
    let raw = fs::read_to_string(&dest).unwrap();
    assert!(!raw.contains(",=HYPERLINK"), "no cell starts with a formula");
}

/// The text of a scalar field in a flat JSON object.
fn raw_field<'a>(line: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\":");
    let start = line.find(&key).unwrap() + key.len();
    let rest = &line[start..];
    &rest[..rest.find([',', '}']).unwrap()]
}

#[tokio::test]
async fn ndjson_round_trips() {
    let (db, symbols) = sample_db().await;
    let dest = db.dir.path().join("bars.ndjson");
    let output =
        export_to_file(&db.storage, &request(&symbols, ExportFormat::Ndjson), &dest, None).await.unwrap();
    let expected = stored(&db.storage, &symbols).await;
    check_output(&output, expected.len());

    let text = fs::read_to_string(&dest).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len());
    for (line, (symbol, bar)) in lines.iter().zip(&expected) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["symbol"], symbol.as_str());
        assert_eq!(v["interval"], "1d");
        assert_eq!(v["date"], bar.date().to_string());
        assert!(v.get("ts").is_none(), "trading days have a date, not a ts: {line}");
        // Numbers are compared as text parsed by Rust's correctly rounded parser.
        for (name, value) in [
            ("open", bar.open),
            ("high", bar.high),
            ("low", bar.low),
            ("close", bar.close),
            ("adj_close", bar.adj_close),
        ] {
            let raw = raw_field(line, name);
            let parsed = (raw != "null").then(|| raw.parse::<f64>().unwrap());
            assert_eq!(parsed, value, "{name} in {line}");
            assert_eq!(v[name].is_null(), value.is_none());
            assert_eq!(v[name].as_f64(), value, "serde_json reads the exact value back");
        }
        assert_eq!(v["volume"].as_i64(), bar.volume, "{line}");
        assert!(!raw_field(line, "volume").contains('.'), "volume is an integer: {line}");
        assert_eq!(v["partial"], bar.partial);
        assert_eq!(v["provider"], bar.provider.as_str());
        assert_eq!(v["flag"].as_str(), bar.flag.as_deref(), "ndjson keeps text as stored");
    }
}

#[tokio::test]
async fn parquet_round_trips_with_typed_columns() {
    let (db, symbols) = sample_db().await;
    let dest = db.dir.path().join("bars.parquet");
    let output =
        export_to_file(&db.storage, &request(&symbols, ExportFormat::Parquet), &dest, None).await.unwrap();
    let expected = stored(&db.storage, &symbols).await;
    check_output(&output, expected.len());

    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&dest).unwrap()).unwrap();
    let schema = builder.schema().clone();
    assert_eq!(schema.field_with_name("date").unwrap().data_type(), &DataType::Date32);
    assert!(schema.field_with_name("ts").is_err(), "trading days have a date column only");
    for name in ["open", "high", "low", "close", "adj_close"] {
        let field = schema.field_with_name(name).unwrap();
        assert_eq!(field.data_type(), &DataType::Float64);
        assert!(field.is_nullable());
    }
    assert_eq!(schema.field_with_name("volume").unwrap().data_type(), &DataType::Int64);
    assert_eq!(schema.field_with_name("partial").unwrap().data_type(), &DataType::Boolean);
    for name in ["symbol", "interval", "provider", "flag"] {
        assert_eq!(schema.field_with_name(name).unwrap().data_type(), &DataType::Utf8);
    }
    // The Parquet schema itself (what DuckDB, pandas and polars read, without Arrow's metadata)
    // carries the DATE logical type.
    let parquet_schema = builder.parquet_schema().column(2).logical_type_ref().cloned();
    assert_eq!(parquet_schema, Some(parquet::basic::LogicalType::Date));
    let mut rows = Vec::new();
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        let symbol = batch.column(0).as_string::<i32>();
        let interval = batch.column(1).as_string::<i32>();
        let date = batch.column(2).as_primitive::<Date32Type>();
        let prices: Vec<_> = (3..8).map(|c| batch.column(c).as_primitive::<Float64Type>().clone()).collect();
        let volume = batch.column(8).as_primitive::<Int64Type>();
        let provider = batch.column(9).as_string::<i32>();
        let partial = batch.column(10).as_boolean();
        let flag = batch.column(11).as_string::<i32>();
        for r in 0..batch.num_rows() {
            let values: Vec<Option<f64>> =
                prices.iter().map(|p| if p.is_null(r) { None } else { Some(p.value(r)) }).collect();
            rows.push((
                symbol.value(r).to_owned(),
                interval.value(r).to_owned(),
                date.value(r),
                values,
                (!volume.is_null(r)).then(|| volume.value(r)),
                provider.value(r).to_owned(),
                partial.value(r),
                (!flag.is_null(r)).then(|| flag.value(r).to_owned()),
            ));
        }
    }
    assert_eq!(rows.len(), expected.len());
    for (row, (symbol, bar)) in rows.iter().zip(&expected) {
        assert_eq!(row.0, symbol.as_str());
        assert_eq!(row.1, "1d");
        assert_eq!(i64::from(row.2), bar.ts.timestamp() / 86_400, "days since 1970-01-01");
        assert_eq!(row.3, vec![bar.open, bar.high, bar.low, bar.close, bar.adj_close]);
        assert_eq!(row.4, bar.volume);
        assert_eq!(row.5, bar.provider.as_str());
        assert_eq!(row.6, bar.partial);
        assert_eq!(row.7, bar.flag);
    }
}

#[tokio::test]
async fn parquet_intraday_ts_is_a_utc_timestamp() {
    let db = db().await;
    let aapl = sym("AAPL");
    let bars: Vec<Bar> = series(12, 180.0, ProviderId::Yahoo)
        .into_iter()
        .enumerate()
        .map(|(i, mut bar)| {
            bar.ts = Utc.with_ymd_and_hms(2024, 5, 3, 13, 30, 0).unwrap()
                + chrono::Duration::minutes(5 * i as i64);
            bar
        })
        .collect();
    db.storage.upsert_bars(&aapl, Interval::Min5, &bars, &Default::default()).await.unwrap();
    let dest = db.dir.path().join("intraday.parquet");
    let request = ExportRequest { interval: Interval::Min5, ..request(&[aapl], ExportFormat::Parquet) };
    export_to_file(&db.storage, &request, &dest, None).await.unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&dest).unwrap()).unwrap();
    assert_eq!(
        builder.schema().field_with_name("ts").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
    );
    assert!(builder.schema().field_with_name("date").is_err());
    let logical = builder.parquet_schema().column(2).logical_type_ref().cloned();
    match logical {
        Some(parquet::basic::LogicalType::Timestamp(timestamp)) => {
            assert!(timestamp.is_adjusted_to_u_t_c, "UTC");
            assert!(matches!(timestamp.unit, parquet::basic::TimeUnit::MILLIS), "{timestamp:?}");
        }
        other => panic!("expected a TIMESTAMP logical type, got {other:?}"),
    }
    let mut stamps = Vec::new();
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        let ts = batch.column(2).as_primitive::<TimestampMillisecondType>();
        stamps.extend((0..batch.num_rows()).map(|r| ts.value(r)));
    }
    assert_eq!(stamps, bars.iter().map(|b| b.ts.timestamp_millis()).collect::<Vec<_>>());
}

fn zip_entry(path: &Path, name: &str) -> String {
    let mut archive = zip::ZipArchive::new(File::open(path).unwrap()).unwrap();
    let mut text = String::new();
    archive.by_name(name).unwrap().read_to_string(&mut text).unwrap();
    text
}

#[tokio::test]
async fn xlsx_has_a_summary_sheet_first_and_a_sheet_per_symbol() {
    let (db, mut symbols) = sample_db().await;
    // A symbol whose name needs care: it starts with a formula trigger and collides with the
    // summary sheet's name case-insensitively.
    let odd = sym("summary");
    db.storage
        .upsert_bars(&odd, Interval::Day1, &series(3, 10.0, ProviderId::Sample), &Default::default())
        .await
        .unwrap();
    symbols.push(odd);
    let dest = db.dir.path().join("bars.xlsx");
    let output =
        export_to_file(&db.storage, &request(&symbols, ExportFormat::Xlsx), &dest, None).await.unwrap();
    let expected = stored(&db.storage, &symbols).await;
    check_output(&output, expected.len());

    let bytes = fs::read(&dest).unwrap();
    assert!(bytes.starts_with(b"PK"), "an xlsx is a zip");
    let workbook = zip_entry(&dest, "xl/workbook.xml");
    let names: Vec<&str> =
        workbook.split("<sheet name=\"").skip(1).map(|s| s.split('"').next().unwrap()).collect();
    assert_eq!(names, ["Summary", "AAPL", "MSFT", "SUMMARY (2)"]);

    // Sheet 2 is AAPL: header + 60 rows, typed cells, the flag neutralised.
    let aapl = zip_entry(&dest, "xl/worksheets/sheet2.xml");
    assert_eq!(aapl.matches("<row ").count(), 61);
    assert!(aapl.contains("<pane ySplit=\"1\""), "header frozen");
    assert!(aapl.contains("'=HYPERLINK"), "flag neutralised");
    assert!(!aapl.contains("<t>=HYPERLINK"));
    // 2020-01-01 is Excel serial 43831, written as a number with a date style.
    assert!(aapl.contains("<c r=\"C2\" s=\"2\"><v>43831.0</v>"), "dates are Excel serial numbers");
    let styles = zip_entry(&dest, "xl/styles.xml");
    assert!(styles.contains("yyyy-mm-dd"));
    assert!(styles.contains("<b/>"), "bold header");

    // The summary sheet: header + one row per symbol.
    let summary = zip_entry(&dest, "xl/worksheets/sheet1.xml");
    assert_eq!(summary.matches("<row ").count(), 4);
}

#[tokio::test]
async fn html_report_is_written() {
    let (db, symbols) = sample_db().await;
    let dest = db.dir.path().join("report.html");
    let output =
        export_to_file(&db.storage, &request(&symbols, ExportFormat::Html), &dest, None).await.unwrap();
    let expected = stored(&db.storage, &symbols).await;
    check_output(&output, expected.len());
    let html = fs::read_to_string(&dest).unwrap();
    assert!(html.contains("AAPL") && html.contains("MSFT"));
    assert!(!html.contains(EVIL_FLAG), "text is escaped");
    assert_eq!(output.summaries.len(), 2);
}

fn research_note(symbol: &str, rating: Rating, thesis: &str) -> Stored<ResearchNote> {
    let key_figures = serde_json::json!({ "pe": 28.5, "revenue_growth": "8%", "segments": ["a", "b"] });
    let value = ResearchNote {
        crew_run_id: Some(42),
        symbol: sym(symbol),
        rating,
        confidence: 0.75,
        horizon: "6-12 months".to_owned(),
        thesis: thesis.to_owned(),
        risks: vec!["Regulation, in the EU".to_owned(), "Supply chain".to_owned()],
        key_figures: key_figures.as_object().cloned().unwrap(),
        sources: vec!["https://example.com/10-K".to_owned(), "stored bars".to_owned()],
        markdown: "# AAPL\n\nLong note.".to_owned(),
        model: "qwen2.5:7b".to_owned(),
        crew: "research".to_owned(),
    };
    Stored { id: 7, created_at: Utc.with_ymd_and_hms(2025, 3, 1, 14, 30, 5).unwrap(), value }
}

#[tokio::test]
async fn notes_csv_reads_back_with_quoting_and_neutralised_text() {
    let dir = tempfile::tempdir().unwrap();
    let aapl = research_note("AAPL", Rating::Buy, "Services grow, margins hold;\nbuybacks \"continue\".");
    let mut msft = research_note("MSFT", Rating::Sell, "=HYPERLINK(\"http://evil.example\",\"x\")");
    msft.value.crew_run_id = None;
    msft.value.horizon = "+3 months".to_owned();
    msft.value.risks = vec!["-40% drawdown".to_owned()];
    msft.value.sources = Vec::new();
    msft.value.key_figures = serde_json::Map::new();
    msft.value.model = "@model".to_owned();
    let dest = dir.path().join("notes.csv");
    let output = write_notes_csv(&[aapl.clone(), msft], &dest).await.unwrap();
    check_output(&output, 2);
    assert!(output.summaries.is_empty());

    let raw = fs::read_to_string(&dest).unwrap();
    assert!(raw.starts_with(
        "symbol,created_at,rating,confidence,horizon,thesis,risks,key_figures,sources,model,crew,crew_run_id\n"
    ));
    assert!(!raw.contains(",=") && !raw.contains(",+") && !raw.contains(",-") && !raw.contains(",@"));
    let mut reader = csv::Reader::from_path(&dest).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2);
    let first = &records[0];
    assert_eq!(&first[0], "AAPL");
    assert_eq!(&first[1], "2025-03-01T14:30:05Z");
    assert_eq!(DateTime::parse_from_rfc3339(&first[1]).unwrap(), aapl.created_at);
    assert_eq!(&first[2], "buy");
    assert_eq!(first[3].parse::<f64>().unwrap(), 0.75);
    assert_eq!(&first[4], "6-12 months");
    assert_eq!(&first[5], aapl.thesis, "commas, quotes and newlines survive the quoting");
    assert_eq!(&first[6], "Regulation, in the EU | Supply chain");
    assert!(!first[7].contains(' ') && !first[7].contains('\n'), "compact JSON: {}", &first[7]);
    let figures: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&first[7]).unwrap();
    assert_eq!(figures, aapl.key_figures);
    assert_eq!(&first[8], "https://example.com/10-K | stored bars");
    assert_eq!((&first[9], &first[10], &first[11]), ("qwen2.5:7b", "research", "42"));

    let second = &records[1];
    assert_eq!(&second[2], "sell");
    assert_eq!(&second[5], "'=HYPERLINK(\"http://evil.example\",\"x\")", "formula neutralised");
    assert_eq!(&second[4], "'+3 months");
    assert_eq!(&second[6], "'-40% drawdown");
    assert_eq!((&second[7], &second[8]), ("{}", ""));
    assert_eq!(&second[9], "'@model");
    assert_eq!(&second[11], "", "no crew run");

    // No notes: a header-only file, still a valid table.
    let empty = dir.path().join("empty-notes.csv");
    let output = write_notes_csv(&[], &empty).await.unwrap();
    check_output(&output, 0);
    assert_eq!(
        fs::read_to_string(&empty).unwrap(),
        "symbol,created_at,rating,confidence,horizon,thesis,risks,key_figures,sources,model,crew,crew_run_id\n"
    );
    let mut reader = csv::Reader::from_path(&empty).unwrap();
    assert_eq!(reader.headers().unwrap().len(), 12);
    assert_eq!(reader.records().count(), 0);
}

#[tokio::test]
async fn html_report_shows_the_research_notes_of_its_symbols() {
    let (db, symbols) = sample_db().await;
    let dest = db.dir.path().join("report.html");
    let mut req = request(&symbols, ExportFormat::Html);
    let evil = research_note("MSFT", Rating::Hold, "<script>alert(1)</script> cloud & AI");
    let unrelated = research_note("NVDA", Rating::Buy, "Not in this report.");
    req.notes = [&evil, &unrelated].into_iter().map(NoteSummary::from).collect();
    export_to_file(&db.storage, &req, &dest, None).await.unwrap();
    let html = fs::read_to_string(&dest).unwrap();
    assert!(html.contains(">Research notes</h2>"));
    assert!(html.contains("<span class=\"rating rating-hold\">Hold</span>"));
    assert!(html.contains("75% confidence"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; cloud &amp; AI"));
    assert!(!html.contains("<script"));
    assert!(html.contains("<li>Regulation, in the EU</li>"));
    assert!(!html.contains("Not in this report."), "only notes of the report's symbols");
    assert_eq!(html.matches("<article class=\"note\"").count(), 1);

    // Other formats ignore the notes.
    let csv_dest = db.dir.path().join("bars.csv");
    req.format = ExportFormat::Csv;
    export_to_file(&db.storage, &req, &csv_dest, None).await.unwrap();
    assert!(!fs::read_to_string(&csv_dest).unwrap().contains("alert"));
}

#[tokio::test]
async fn summaries_count_rows_and_match_latest_indicators() {
    let (db, symbols) = sample_db().await;
    let dest = db.dir.path().join("bars.csv");
    let output =
        export_to_file(&db.storage, &request(&symbols, ExportFormat::Csv), &dest, None).await.unwrap();
    assert_eq!(output.summaries.len(), 2);

    let aapl_bars = db.storage.bars(&BarQuery::new(symbols[0].clone(), Interval::Day1)).await.unwrap();
    let aapl = &output.summaries[0];
    assert_eq!(aapl.symbol, symbols[0]);
    assert_eq!(aapl.n_bars, 60);
    assert_eq!(aapl.first, Some(day(0)));
    assert_eq!(aapl.last, Some(day(59)));
    assert_eq!(aapl.providers, vec![ProviderId::Yahoo]);
    assert_eq!(aapl.indicators, latest(&aapl_bars));
    assert!(aapl.indicators.sma50.is_some() && aapl.indicators.rsi14.is_some());

    // MSFT came from two providers for the same 40 days: one bar per day (Yahoo's, preferred)
    // and the sample's differences as disagreements: open and low on 39 final days, high on 35,
    // close on 37 (the last day is partial on both sides, which is not compared).
    let msft_bars = db.storage.bars(&BarQuery::new(symbols[1].clone(), Interval::Day1)).await.unwrap();
    let msft = &output.summaries[1];
    assert_eq!(msft.n_bars, 40);
    assert_eq!(msft.providers, vec![ProviderId::Yahoo]);
    assert_eq!(msft.disagreements, 39 + 39 + 35 + 37);
    assert_eq!(
        msft.disagreements,
        db.storage.count_disagreements(&symbols[1], Interval::Day1, None, None).await.unwrap()
    );
    assert_eq!(aapl.disagreements, 0);
    assert_eq!(msft.indicators, latest(&msft_bars));
    assert_eq!(msft.indicators.bars_used, 38, "two days of 40 have no close");

    // The summary csv has the same content.
    let summary_dest = db.dir.path().join("summary.csv");
    let written = write_summary_csv(&output.summaries, &summary_dest).await.unwrap();
    check_output(&written, 2);
    let mut reader = csv::Reader::from_path(&summary_dest).unwrap();
    let header = reader.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&records[0][col("symbol")], "AAPL");
    assert_eq!(&records[0][col("n_bars")], "60");
    assert_eq!(&records[1][col("providers")], "yahoo");
    assert_eq!(&records[1][col("disagreements")], "150");
    assert_eq!(parse_cell(&records[0][col("sma20")]), aapl.indicators.sma20);
    assert_eq!(parse_cell(&records[0][col("atr14")]), aapl.indicators.atr14);
    assert_eq!(&records[0][col("first")], "2020-01-01T00:00:00Z");
}

#[tokio::test]
async fn date_range_and_unknown_symbols() {
    let (db, symbols) = sample_db().await;
    let mut req = request(&symbols[..1], ExportFormat::Csv);
    req.symbols.push(sym("NOPE"));
    req.from = Some(day(10).date_naive());
    req.to = Some(day(19).date_naive());
    let dest = db.dir.path().join("range.csv");
    let output = export_to_file(&db.storage, &req, &dest, None).await.unwrap();
    check_output(&output, 10);
    assert_eq!(output.summaries[0].first, Some(day(10)));
    assert_eq!(output.summaries[0].last, Some(day(19)));
    assert_eq!(output.summaries[1].n_bars, 0, "a symbol without bars still has a summary");
    assert_eq!(output.summaries[1].indicators, latest([]));
}

#[tokio::test]
async fn an_empty_export_is_a_valid_file() {
    let db = db().await;
    for format in ExportFormat::ALL {
        let dest = db.dir.path().join(format!("empty.{format}"));
        let output = export_to_file(&db.storage, &request(&[], format), &dest, None).await.unwrap();
        check_output(&output, 0);
        assert!(output.summaries.is_empty());
    }
    let header = fs::read_to_string(db.dir.path().join("empty.csv")).unwrap();
    assert_eq!(header, "symbol,interval,date,open,high,low,close,adj_close,volume,provider,partial,flag\n");
    let parquet =
        ParquetRecordBatchReaderBuilder::try_new(File::open(db.dir.path().join("empty.parquet")).unwrap());
    assert_eq!(parquet.unwrap().metadata().file_metadata().num_rows(), 0);
}

#[tokio::test]
async fn failure_leaves_no_file_and_a_clear_error() {
    let (db, symbols) = sample_db().await;
    // The parent of the destination is a regular file: not writable even for root.
    let blocker = db.dir.path().join("not-a-dir");
    fs::write(&blocker, b"x").unwrap();
    let dest = blocker.join("bars.csv");
    let err =
        export_to_file(&db.storage, &request(&symbols, ExportFormat::Csv), &dest, None).await.unwrap_err();
    assert!(matches!(&err, ExportError::DestinationNotWritable { dir, .. } if dir == &blocker), "{err}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
    assert!(!dest.exists());

    let missing = db.dir.path().join("missing").join("bars.csv");
    let err =
        export_to_file(&db.storage, &request(&symbols, ExportFormat::Csv), &missing, None).await.unwrap_err();
    assert!(matches!(err, ExportError::DestinationNotWritable { .. }), "{err}");

    let err = export_to_file(&db.storage, &request(&symbols, ExportFormat::Csv), db.dir.path(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ExportError::InvalidDestination { .. }), "{err}");
    assert!(temp_files(db.dir.path()).is_empty());
}

#[tokio::test]
async fn storage_failure_keeps_the_old_destination() {
    let (db, symbols) = sample_db().await;
    let dest = db.dir.path().join("bars.parquet");
    fs::write(&dest, b"previous export").unwrap();
    db.storage.close().await;
    let err = export_to_file(&db.storage, &request(&symbols, ExportFormat::Parquet), &dest, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ExportError::Storage(_)), "{err}");
    assert_eq!(fs::read(&dest).unwrap(), b"previous export", "destination untouched");
    assert!(temp_files(db.dir.path()).is_empty(), "temporary file removed");
}

#[tokio::test]
async fn a_successful_export_replaces_the_destination() {
    let (db, symbols) = sample_db().await;
    let dest = db.dir.path().join("bars.ndjson");
    fs::write(&dest, b"previous export").unwrap();
    export_to_file(&db.storage, &request(&symbols, ExportFormat::Ndjson), &dest, None).await.unwrap();
    assert!(fs::read_to_string(&dest).unwrap().starts_with("{\"symbol\":\"AAPL\""));
}

/// A database with one symbol of `n` bars, enough for many chunks.
async fn big_db(n: i64) -> (Db, Vec<Symbol>) {
    let db = db().await;
    let symbol = sym("BIG");
    let start = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
    let bars: Vec<Bar> = (0..n)
        .map(|i| Bar {
            ts: start + chrono::Duration::minutes(i),
            open: Some(1.0),
            high: Some(2.0),
            low: Some(0.5),
            close: Some(1.0 + (i % 7) as f64),
            adj_close: None,
            volume: Some(10),
            provider: ProviderId::Sample,
            partial: false,
            flag: None,
        })
        .collect();
    db.storage.upsert_bars(&symbol, Interval::Day1, &bars, &Default::default()).await.unwrap();
    (db, vec![symbol])
}

#[tokio::test]
async fn cancelling_mid_export_removes_the_temporary_file() {
    let (db, symbols) = big_db(60_000).await;
    let dir = db.dir.path().to_path_buf();
    for format in [ExportFormat::Csv, ExportFormat::Parquet, ExportFormat::Xlsx] {
        let dest = dir.join(format!("big.{format}"));
        // Cancel deterministically: at the first progress report, once the temporary file has
        // been seen on disk.
        let saw_temp = Arc::new(Mutex::new(false));
        let notify = Arc::new(tokio::sync::Notify::new());
        let progress = {
            let (saw_temp, notify, dir) = (Arc::clone(&saw_temp), Arc::clone(&notify), dir.clone());
            move |_: ExportProgress| {
                *saw_temp.lock().unwrap() |= !temp_files(&dir).is_empty();
                notify.notify_one();
            }
        };
        let req = request(&symbols, format);
        tokio::select! {
            result = export_to_file(&db.storage, &req, &dest, Some(&progress)) => panic!("finished: {result:?}"),
            () = notify.notified() => {}
        }
        assert!(*saw_temp.lock().unwrap(), "the temporary file existed mid-export");
        assert!(!dest.exists(), "{format}: no destination after cancelling");
        assert!(temp_files(&dir).is_empty(), "{format}: temporary file removed on cancel");
    }

    // And with a plain timeout.
    let dest = dir.join("timeout.csv");
    let req = request(&symbols, ExportFormat::Csv);
    let result =
        tokio::time::timeout(Duration::from_millis(5), export_to_file(&db.storage, &req, &dest, None)).await;
    assert!(result.is_err(), "the export should not finish in 5 ms");
    assert!(!dest.exists());
    assert!(temp_files(&dir).is_empty());

    // The storage is still usable (the cursor's connection went back to the pool) and a full
    // export works, with progress reports that only grow.
    let seen = Mutex::new(Vec::new());
    let progress = |p: ExportProgress| seen.lock().unwrap().push(p);
    let output = export_to_file(&db.storage, &req, &dest, Some(&progress)).await.unwrap();
    check_output(&output, 60_000);
    let seen = seen.into_inner().unwrap();
    assert!(seen.len() > 10);
    assert!(seen.windows(2).all(|w| w[0].rows_written <= w[1].rows_written));
    assert_eq!(seen.last().unwrap().rows_written, 60_000);
    assert!(seen.iter().all(|p| p.n_symbols == 1 && p.symbol_idx == 0));
}

#[test]
fn clean_stray_temp_files_removes_only_unlocked_files_of_ours() {
    let dir = tempfile::tempdir().unwrap();
    let ours = [format!("{TEMP_PREFIX}abc.tmp"), format!("{TEMP_PREFIX}0123456789abcdef.tmp")];
    let live = format!("{TEMP_PREFIX}live.tmp");
    let theirs = ["bars.csv", "x.tw-export-.tmp", "tw-export-abc.tmp", ".tw-export-x", "a.tmp"];
    for name in ours.iter().chain([&live]).map(String::as_str).chain(theirs) {
        fs::write(dir.path().join(name), b"x").unwrap();
    }
    fs::create_dir(dir.path().join(format!("{TEMP_PREFIX}dir.tmp"))).unwrap();
    // A writer in this process: advisory locks belong to an open file, not to a process.
    let writer = File::options().write(true).open(dir.path().join(&live)).unwrap();
    writer.lock().unwrap();
    assert_eq!(clean_stray_temp_files(dir.path()).unwrap(), 2);
    let mut want: BTreeSet<String> = theirs.iter().map(|s| (*s).to_owned()).collect();
    want.insert(format!("{TEMP_PREFIX}dir.tmp"));
    want.insert(live.clone());
    assert_eq!(file_names(dir.path()), want);
    assert_eq!(clean_stray_temp_files(dir.path()).unwrap(), 0);
    // Once its writer is gone (killed), the file is debris.
    drop(writer);
    assert_eq!(clean_stray_temp_files(dir.path()).unwrap(), 1);
    assert!(!dir.path().join(&live).exists());
    assert!(clean_stray_temp_files(&dir.path().join("missing")).is_err());
}

fn file_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect()
}

/// Names the file [`lock_holder`] locks when the test binary runs as a child process.
const HOLD_LOCK_ENV: &str = "TW_TEST_HOLD_LOCK";

/// Not a test of its own (it returns at once): `an_export_removes_a_killed_writers_temp_file_
/// but_not_a_live_ones` runs this test binary again with only this test selected and
/// [`HOLD_LOCK_ENV`] set, as "another process writing an export": it locks the file like a
/// writer does and holds the lock until its stdin closes.
#[test]
fn lock_holder() {
    let Some(path) = std::env::var_os(HOLD_LOCK_ENV) else { return };
    let file = File::options().write(true).open(path).unwrap();
    file.lock().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// Issue 11: a CLI export killed mid-write left its temporary file forever. The next export
/// into the directory removes such files, but never one another process is still writing.
#[tokio::test]
async fn an_export_removes_a_killed_writers_temp_file_but_not_a_live_ones() {
    let (db, symbols) = sample_db().await;
    let dir = db.dir.path().join("out");
    fs::create_dir(&dir).unwrap();
    let killed = dir.join(format!("{TEMP_PREFIX}killed.tmp"));
    let live = dir.join(format!("{TEMP_PREFIX}live.tmp"));
    let other = dir.join("notes.tmp");
    for path in [&killed, &live, &other] {
        fs::write(path, b"partial").unwrap();
    }
    let mut holder = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["lock_holder", "--exact", "--test-threads=1", "--quiet"])
        .env(HOLD_LOCK_ENV, &live)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let locked_elsewhere =
        || matches!(File::open(&live).unwrap().try_lock(), Err(std::fs::TryLockError::WouldBlock));
    assert!(
        test_support::wait_until_blocking(Duration::from_secs(10), locked_elsewhere),
        "the child process did not lock the file"
    );

    let first = export_to_file(&db.storage, &request(&symbols, ExportFormat::Csv), &dir.join("a.csv"), None)
        .await
        .unwrap();
    assert_eq!(first.rows, stored(&db.storage, &symbols).await.len() as u64);
    let names = file_names(&dir);
    assert!(!killed.exists(), "{names:?}");
    assert!(live.exists() && other.exists(), "{names:?}");
    assert_eq!(fs::read(&live).unwrap(), b"partial", "a live writer's file is not touched");

    // The other writer dies: its file is debris for the next export (a small table here).
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
    write_summary_csv(&first.summaries, &dir.join("summary.csv")).await.unwrap();
    let names = file_names(&dir);
    let want: BTreeSet<String> =
        ["a.csv", "notes.tmp", "summary.csv"].into_iter().map(str::to_owned).collect();
    assert_eq!(names, want);
}

/// An export's own temporary file is locked while it is written, so a sweep running meanwhile
/// (another export into the same directory, a server starting on it) leaves it alone and the
/// export completes.
#[tokio::test]
async fn a_sweep_during_an_export_leaves_its_file_alone() {
    let (db, symbols) = sample_db().await;
    let dir = db.dir.path().join("out");
    fs::create_dir(&dir).unwrap();
    let sweeps = Mutex::new(Vec::new());
    let progress = |_: ExportProgress| {
        let temp = temp_files(&dir);
        let locked = temp.iter().all(|path| {
            matches!(File::open(path).unwrap().try_lock(), Err(std::fs::TryLockError::WouldBlock))
        });
        sweeps.lock().unwrap().push((temp.len(), locked, clean_stray_temp_files(&dir).unwrap()));
    };
    let dest = dir.join("a.csv");
    let output = export_to_file(&db.storage, &request(&symbols, ExportFormat::Csv), &dest, Some(&progress))
        .await
        .unwrap();
    check_output(&output, stored(&db.storage, &symbols).await.len());
    let sweeps = sweeps.into_inner().unwrap();
    assert!(!sweeps.is_empty());
    // While writing (every report but the final one, made after the rename) the temp file
    // exists, is locked and survives the sweep.
    let (last, writing) = sweeps.split_last().unwrap();
    assert!(writing.iter().all(|s| *s == (1, true, 0)), "{sweeps:?}");
    assert_eq!(*last, (0, true, 0));
    assert!(temp_files(&dir).is_empty());
}
