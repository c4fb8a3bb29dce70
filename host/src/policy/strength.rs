//! A new password's estimated strength (zxcvbn's score and guess count), shown when a
//! password slot is made, and the floor under which a host asks before using it
//! ([`crate::ring::WeakPasswords`]), whether or not a `[policy]` is configured.

/// zxcvbn scores under this one are weak: 0–2 mean that the password falls to an offline
/// attack with fewer than 10^10 guesses.
pub const WEAK_BELOW_SCORE: u8 = 3;

/// The estimate for one password (nothing of the password itself is kept).
#[derive(Debug, Clone, PartialEq)]
pub struct Strength {
    /// zxcvbn's score, 0 (too guessable) to 4 (very unguessable).
    pub score: u8,
    /// log2 of the estimated guesses (the unit of the policy's `minimum_quality`).
    pub bits: f64,
    /// zxcvbn's warning, when it has one ("This is a top-100 common password").
    pub warning: Option<String>,
}

impl Strength {
    /// Estimates `password`'s strength.
    ///
    /// ```
    /// use trousseau::policy::Strength;
    ///
    /// assert!(Strength::estimate("abc").is_weak());
    /// assert!(!Strength::estimate("correct horse battery staple 1987 in Lyon").is_weak());
    /// ```
    pub fn estimate(password: &str) -> Strength {
        if password.is_empty() {
            return Strength {
                score: 0,
                bits: 0.0,
                warning: Some("the password is empty".into()),
            };
        }
        let entropy = zxcvbn::zxcvbn(password, &[]);
        Strength {
            score: u8::from(entropy.score()),
            bits: entropy.guesses_log10() * std::f64::consts::LOG2_10,
            warning: entropy
                .feedback()
                .and_then(|f| f.warning())
                .map(|w| w.to_string()),
        }
    }

    /// Whether the score is under [`WEAK_BELOW_SCORE`].
    pub fn is_weak(&self) -> bool {
        self.score < WEAK_BELOW_SCORE
    }

    /// For people: `weak (score 0 of 4, about 10 bits; This is a top-10 common password)`.
    pub fn describe(&self) -> String {
        let word = match self.score {
            0 => "very weak",
            1 | 2 => "weak",
            3 => "good",
            _ => "strong",
        };
        let warning = self
            .warning
            .as_deref()
            .filter(|w| !w.is_empty())
            .map(|w| format!("; {}", w.trim_end_matches('.')))
            .unwrap_or_default();
        format!(
            "{word} (zxcvbn score {} of 4, about {:.0} bits{warning})",
            self.score, self.bits
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abc_is_weak_and_a_long_passphrase_is_not() {
        let weak = Strength::estimate("abc");
        assert!(weak.is_weak(), "{weak:?}");
        assert!(
            weak.describe().contains("score 0 of 4"),
            "{}",
            weak.describe()
        );
        assert!(Strength::estimate("").is_weak());
        assert!(!Strength::estimate("tulip Cobalt 93 orbit; wander-glass").is_weak());
    }
}
