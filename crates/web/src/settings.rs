//! The settings page: API tokens (for scripts and for signing in here), made and revoked.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::layout::{Nav, Viewer, document};
use crate::pages::FieldError;

/// A stored API token (only its hash is stored; the value is never shown again).
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The settings page. `created` is a token just made, `(name, value)`, shown this once.
pub fn settings_page(
    tokens: &[TokenRow],
    viewer: &Viewer,
    created: Option<(&str, &str)>,
    error: Option<&FieldError>,
) -> Markup {
    let body = html! {
        h1 { "Settings" }
        h2 { "API tokens" }
        @if let Some((name, token)) = created {
            div.panel role="status" {
                p { "Token " strong { (name) } " made. Copy it now: it is shown only once and only its hash is kept." }
                p { code.token { (token) } }
            }
        }
        form.inline method="post" action="/settings/tokens" {
            (viewer.csrf_field())
            label for="token-name" { "New token, named" }
            input #token-name name="name" required maxlength="64" placeholder="laptop"
                value=[error.map(|e| e.value.as_str())] aria-invalid=[error.map(|_| "true")];
            button type="submit" { "Make token" }
            @if let Some(error) = error { p.field-error { (error.message) } }
        }
        @if tokens.is_empty() { p.muted { "No stored tokens; tokens in the config file are not listed." } } @else {
            div.panel.table-wrap {
                table {
                    thead { tr {
                        th scope="col" class="text" { "Name" } th scope="col" { "Made (UTC)" } th scope="col" class="text" { "State" }
                        th scope="col" class="text" { span.visually-hidden { "Revoke" } }
                    } }
                    tbody {
                        @for token in tokens {
                            tr {
                                td.text { (token.name) }
                                td { (token.created_at.format("%Y-%m-%d %H:%M")) }
                                @if let Some(revoked) = token.revoked_at {
                                    td class="text muted" { "revoked " (revoked.format("%Y-%m-%d")) }
                                    td {}
                                } @else {
                                    td class="text up" { "active" }
                                    td.text.actions {
                                        form method="post" action="/settings/tokens/revoke" {
                                            (viewer.csrf_field())
                                            input type="hidden" name="name" value=(token.name);
                                            button.link type="submit" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.muted { "Tokens in the config file (" code { "server.auth.tokens" } ") are not listed here." }
        }
    };
    document("Settings", Nav::Settings, viewer, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_is_shown_once_and_names_are_escaped() {
        let tokens = [TokenRow { name: "<laptop>".to_owned(), created_at: Utc::now(), revoked_at: None }];
        let viewer = Viewer { csrf_token: Some("aa".to_owned()) };
        let html = settings_page(&tokens, &viewer, Some(("ci", "tw_123")), None).into_string();
        assert!(html.contains("<code class=\"token\">tw_123</code>") && html.contains("shown only once"));
        assert!(html.contains("&lt;laptop&gt;") && html.contains(r#"value="&lt;laptop&gt;""#));
        assert!(!settings_page(&tokens, &viewer, None, None).into_string().contains("tw_123"));
    }
}
