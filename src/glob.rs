//! Room patterns (`rooms: ['project-*']` in tokens and `authenticate` results): room-name
//! characters plus `*`, which matches any run of characters, the empty one included. Matching
//! is iterative (linear backtracking over the last `*`), so no pattern can make it explode.

use crate::validate::is_room_char;

/// Longest pattern: as long as the longest room name.
pub const MAX_PATTERN_LEN: usize = 128;

/// A pattern: 1..=128 characters of `[A-Za-z0-9_.:-]` or `*`.
pub fn check_pattern(p: &str) -> Result<(), String> {
    let ok = !p.is_empty()
        && p.len() <= MAX_PATTERN_LEN
        && p.chars().all(|c| c == '*' || is_room_char(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected a room pattern of 1-{MAX_PATTERN_LEN} characters [A-Za-z0-9_.:-] or '*', \
             got {:?}",
            p.chars().take(200).collect::<String>()
        ))
    }
}

/// Whether `room` matches `pattern` (both ASCII; a non-ASCII room never matches).
pub fn matches(pattern: &str, room: &str) -> bool {
    let (p, r) = (pattern.as_bytes(), room.as_bytes());
    let (mut pi, mut ri) = (0, 0);
    // Where the last `*` was, and where in `room` its match currently ends.
    let mut star: Option<(usize, usize)> = None;
    while ri < r.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ri));
            pi += 1;
        } else if pi < p.len() && p[pi] == r[ri] {
            pi += 1;
            ri += 1;
        } else if let Some((sp, sr)) = star {
            // Let the last `*` swallow one more character and retry from there.
            pi = sp + 1;
            ri = sr + 1;
            star = Some((sp, sr + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether any pattern matches.
pub fn any_matches(patterns: &[String], room: &str) -> bool {
    patterns.iter().any(|p| matches(p, room))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn star_matches_any_run() {
        assert!(matches("project-*", "project-a"));
        assert!(matches("project-*", "project-"));
        assert!(!matches("project-*", "project"));
        assert!(!matches("project-*", "other-project-a"));
        assert!(matches("*", "anything"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exact2"));
        assert!(matches("**a", "a"));
        assert!(matches("*-logs", "project-1-logs"));
    }

    #[test]
    fn patterns_use_room_characters() {
        assert!(check_pattern("project-*").is_ok());
        assert!(check_pattern("*").is_ok());
        assert!(check_pattern("").is_err());
        assert!(check_pattern("a b").is_err());
        assert!(check_pattern("a?").is_err());
        assert!(check_pattern(&"a".repeat(129)).is_err());
    }

    /// A reference matcher (exponential, for small inputs only).
    fn reference(p: &[u8], r: &[u8]) -> bool {
        match p.split_first() {
            None => r.is_empty(),
            Some((b'*', rest)) => (0..=r.len()).any(|i| reference(rest, &r[i..])),
            Some((c, rest)) => r.first() == Some(c) && reference(rest, &r[1..]),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn agrees_with_the_reference(p in "[ab*]{0,8}", r in "[ab]{0,10}") {
            prop_assert_eq!(matches(&p, &r), reference(p.as_bytes(), r.as_bytes()));
        }

        #[test]
        fn never_panics(p in ".{0,40}", r in ".{0,40}") {
            let _ = matches(&p, &r);
            let _ = check_pattern(&p);
        }

        #[test]
        fn a_pattern_without_star_is_equality(p in "[a-z0-9-]{1,20}", r in "[a-z0-9-]{1,20}") {
            prop_assert_eq!(matches(&p, &r), p == r);
        }
    }
}
