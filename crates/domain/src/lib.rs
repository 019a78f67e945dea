//! The vocabulary of tickerwatch: symbols, intervals, bars, quotes, profiles, news, the
//! data-quality gate and streaming technical indicators; research notes and ratings; social posts,
//! mentions and scans; run triggers.
//!
//! Design decision: this crate does no IO and knows nothing about HTTP, SQL or vendor wire
//! formats. Every other crate converts into these types at its edge, so a value that exists here
//! has already been validated ("parse, don't validate"): a `Symbol` can always be used in a URL
//! path or a file name, an `Interval` always maps onto every vendor's resolution.

#[macro_use]
mod text_enum;

mod bar;
pub mod calendar;
pub mod indicators;
mod interval;
mod quality;
pub mod reconcile;
mod research;
mod run;
mod social;
mod symbol;

pub use bar::{
    Bar, BarSeries, CompanyProfile, CorporateAction, CorporateActionKind, NewsItem, ParseProviderError,
    PriceBasis, ProviderId, Quote, QuoteSource, volume_from_f64,
};
pub use calendar::{CalendarError, DateRange, EmptyDateRange, Exchange, Holidays, TradingDay};
pub use interval::{Interval, ParseIntervalError};
pub use quality::{QualityFinding, QualityIssue, QualityReport, check_bars};
pub use research::{Rating, ResearchNote};
pub use run::{OutputKind, RunOutput, RunTrigger};
pub use social::{Mention, MentionKind, PostSource, ScanStatus, SocialPost, SocialScan};
pub use symbol::{ParseSymbolError, Symbol};
