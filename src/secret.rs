//! Secret strings: passwords and other values that must never be printed.
//!
//! [`Password`] has a redacting `Debug`, no `Display`, and an explicitly named
//! accessor, [`Password::expose`]. Comparing two passwords is allowed (parsed URLs
//! are comparable) but printing one is not.

use std::fmt;

/// What a redacted secret prints as.
pub const REDACTED: &str = "***";

/// A password (from a URL's `user:password@` part or its `password` parameter).
///
/// ```
/// use rds_iam::secret::Password;
///
/// let p = Password::new("hunter2");
/// assert_eq!(format!("{p:?}"), "Password(***)");
/// assert_eq!(p.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Password(String);

impl Password {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself. The name is meant to be seen in review.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Password({REDACTED})")
    }
}

impl From<String> for Password {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Password {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_pinned_and_redacted() {
        let p = Password::new("s3cr3t-value");
        assert_eq!(format!("{p:?}"), "Password(***)");
        assert_eq!(format!("{p:#?}"), "Password(***)");
        assert!(!format!("{:?}", Some(&p)).contains("s3cr3t"));
    }
}
