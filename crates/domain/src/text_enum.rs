//! [`text_enum!`](crate::text_enum), the one definition of the enums stored and sent as text.

/// Declares a fieldless enum stored as TEXT (and spelled the same in the API and exports), with its stored (and API) spelling next to each
/// variant, and generates what every such enum needs: `ALL` (every variant, in declaration
/// order), `as_str`, `Display` (writes `as_str`) and `FromStr` (the inverse of `as_str`, with
/// `Err = String`).
///
/// It exists so that the spelling of a variant is written exactly once: hand-written, each enum
/// repeated the same four items and a new variant could be added to `as_str` yet forgotten in
/// `ALL`, making it unparseable. Attributes (derives, serde renames) and doc comments on the enum
/// and its variants are passed through unchanged; other methods go in a separate `impl` block.
///
/// `parse_error` is the `FromStr` error message, a format string with one `{:?}` for the
/// rejected input.
///
/// ```text
/// text_enum! {
///     /// A note's rating.
///     #[derive(Debug, Clone, Copy, PartialEq, Eq)]
///     pub enum NoteRating {
///         Buy => "buy",
///         Sell => "sell",
///     }
///     parse_error = "unknown rating {:?}: expected buy or sell";
/// }
/// ```
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
        parse_error = $parse_error:literal;
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$(stringify!($variant)),+].len()] = [$(Self::$variant),+];

            /// The stored and API spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| format!($parse_error, s))
            }
        }
    };
}
