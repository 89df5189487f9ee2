//! A unified diff of two sources, line by line (for `GET .../diff`). Pure.
//!
//! The common head and tail are set aside, then the longest common
//! subsequence of the lines between; past `MAX_CELLS` of that table the
//! middle is shown as removed and added whole (still a correct diff).

const MAX_CELLS: usize = 4_000_000;
const CONTEXT: usize = 3;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Edit {
    Same,
    Del,
    Add,
}

/// `a` to `b` as a unified diff with three lines of context; empty when equal.
pub fn unified(a: &str, b: &str, a_name: &str, b_name: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let edits = edits(&a, &b);
    if edits.iter().all(|e| *e == Edit::Same) {
        return String::new();
    }
    // (edit, index in a, index in b) for each line of the script
    let mut script = Vec::with_capacity(edits.len());
    let (mut i, mut j) = (0, 0);
    for e in edits {
        script.push((e, i, j));
        match e {
            Edit::Same => {
                i += 1;
                j += 1;
            }
            Edit::Del => i += 1,
            Edit::Add => j += 1,
        }
    }
    let mut out = format!("--- {a_name}\n+++ {b_name}\n");
    let mut k = 0;
    while k < script.len() {
        if script[k].0 == Edit::Same {
            k += 1;
            continue;
        }
        // a hunk: from CONTEXT lines before this change to CONTEXT after the last change near it
        let start = k.saturating_sub(CONTEXT);
        let mut end = k;
        let mut last_change = k;
        while end < script.len() {
            if script[end].0 != Edit::Same {
                last_change = end;
            } else if end - last_change > 2 * CONTEXT {
                break;
            }
            end += 1;
        }
        let end = (last_change + CONTEXT + 1).min(script.len());
        let hunk = &script[start..end];
        let a_len = hunk.iter().filter(|h| h.0 != Edit::Add).count();
        let b_len = hunk.iter().filter(|h| h.0 != Edit::Del).count();
        let a_start = if a_len == 0 { hunk[0].1 } else { hunk[0].1 + 1 };
        let b_start = if b_len == 0 { hunk[0].2 } else { hunk[0].2 + 1 };
        out.push_str(&format!("@@ -{a_start},{a_len} +{b_start},{b_len} @@\n"));
        for (e, i, j) in hunk {
            match e {
                Edit::Same => out.push_str(&format!(" {}\n", a[*i])),
                Edit::Del => out.push_str(&format!("-{}\n", a[*i])),
                Edit::Add => out.push_str(&format!("+{}\n", b[*j])),
            }
        }
        k = end;
    }
    out
}

fn edits(a: &[&str], b: &[&str]) -> Vec<Edit> {
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut out = vec![Edit::Same; head];
    let (n, m) = (ma.len(), mb.len());
    if n * m > MAX_CELLS {
        out.extend(std::iter::repeat_n(Edit::Del, n));
        out.extend(std::iter::repeat_n(Edit::Add, m));
    } else {
        // lcs[i][j]: the longest common subsequence of ma[i..] and mb[j..]
        let w = m + 1;
        let mut lcs = vec![0u32; (n + 1) * w];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * w + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && ma[i] == mb[j] {
                out.push(Edit::Same);
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
                // removals before additions, as diff(1) shows them
                out.push(Edit::Del);
                i += 1;
            } else {
                out.push(Edit::Add);
                j += 1;
            }
        }
    }
    out.extend(std::iter::repeat_n(Edit::Same, tail));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sources_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "v1", "v2"), "");
    }

    #[test]
    fn one_changed_line() {
        let a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            unified(a, b, "v1", "v2"),
            "--- v1\n+++ v2\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn additions_and_removals_apply() {
        let a = "x\ny\nz";
        let b = "w\nx\nz\nq";
        let d = unified(a, b, "a", "b");
        // applying the diff's lines gives b back, and its removals give a
        let new: Vec<&str> = d
            .lines()
            .skip(2)
            .filter(|l| !l.starts_with("@@") && !l.starts_with('-'))
            .map(|l| &l[1..])
            .collect();
        let old: Vec<&str> = d
            .lines()
            .skip(2)
            .filter(|l| !l.starts_with("@@") && !l.starts_with('+'))
            .map(|l| &l[1..])
            .collect();
        assert_eq!(new, vec!["w", "x", "z", "q"]);
        assert_eq!(old, vec!["x", "y", "z"]);
        assert!(d.contains("@@ -1,3 +1,4 @@"));
    }
}
