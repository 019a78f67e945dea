//! The frame every page shares: head, navigation, footer.

use maud::{DOCTYPE, Markup, html};

/// Where the server serves [`STYLESHEET`].
pub const STYLESHEET_PATH: &str = "/ui/app.css";

/// The one stylesheet, compiled into the binary.
pub const STYLESHEET: &str = include_str!("app.css");

/// Where the server serves [`LIVE_SCRIPT`].
pub const LIVE_SCRIPT_PATH: &str = "/ui/live.js";

/// The only script: live updates where a page offers them (the alert history, the jobs table)
/// and the symbol chart's crosshair, compiled into the binary. Every page works without it.
pub const LIVE_SCRIPT: &str = include_str!("live.js");

/// Where the server serves [`ICON`].
pub const ICON_PATH: &str = "/ui/icon.svg";

/// The tab icon (SVG), compiled into the binary.
pub const ICON: &str = include_str!("icon.svg");

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Jobs,
    Exports,
    Alerts,
    Trending,
    Providers,
    Settings,
    /// A page reached from another one (a symbol), or an error page.
    None,
}

/// Who is looking: signed in (with the CSRF token their forms carry) or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Viewer {
    /// `Some` when signed in.
    pub csrf_token: Option<String>,
}

impl Viewer {
    pub fn signed_in(&self) -> bool {
        self.csrf_token.is_some()
    }

    /// The hidden field every state-changing form carries.
    pub fn csrf_field(&self) -> Markup {
        html! { @if let Some(token) = &self.csrf_token { input type="hidden" name="csrf" value=(token); } }
    }
}

/// A whole HTML document: `title` in the tab, `body` under the navigation.
pub fn document(title: &str, nav: Nav, viewer: &Viewer, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · tickerwatch" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
                link rel="icon" type="image/svg+xml" href=(ICON_PATH);
            }
            body {
                header.top {
                    a.brand href="/" { "tickerwatch" }
                    nav aria-label="Main" {
                        a href="/" aria-current=[(nav == Nav::Dashboard).then_some("page")] { "Dashboard" }
                        a href="/trending" aria-current=[(nav == Nav::Trending).then_some("page")] { "Trending" }
                        a href="/jobs" aria-current=[(nav == Nav::Jobs).then_some("page")] { "Jobs" }
                        a href="/exports" aria-current=[(nav == Nav::Exports).then_some("page")] { "Exports" }
                        a href="/alerts" aria-current=[(nav == Nav::Alerts).then_some("page")] { "Alerts" }
                        a href="/providers" aria-current=[(nav == Nav::Providers).then_some("page")] { "Providers" }
                        a href="/settings" aria-current=[(nav == Nav::Settings).then_some("page")] { "Settings" }
                        a href="/api/docs" { "API" }
                    }
                    div.session {
                        @if viewer.signed_in() {
                            form method="post" action="/signout" {
                                (viewer.csrf_field())
                                button.link type="submit" { "Sign out" }
                            }
                        } @else {
                            a href="/signin" { "Sign in" }
                        }
                    }
                }
                main { (body) }
                footer { "Data as stored by this tickerwatch; every row names its provider." }
            }
        }
    }
}
