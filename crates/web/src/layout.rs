//! The frame every page shares: head, navigation, footer.

use maud::{DOCTYPE, Markup, html};

/// Where the server serves [`STYLESHEET`].
pub const STYLESHEET_PATH: &str = "/ui/app.css";

/// The one stylesheet, compiled into the binary.
pub const STYLESHEET: &str = include_str!("app.css");

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    /// A page reached from another one (a symbol), or an error page.
    None,
}

/// A whole HTML document: `title` in the tab, `body` under the navigation.
pub fn document(title: &str, nav: Nav, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · tickerwatch" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
            }
            body {
                header.top {
                    a.brand href="/" { "tickerwatch" }
                    nav aria-label="Main" {
                        a href="/" aria-current=[(nav == Nav::Dashboard).then_some("page")] { "Dashboard" }
                        a href="/api/docs" { "API" }
                    }
                }
                main { (body) }
                footer { "Data as stored by this tickerwatch; every row names its provider." }
            }
        }
    }
}
