//! What a local server runs, as text a person reads before it first starts (`servers import`,
//! `servers enable`).

use patchbay_engine::LaunchPlan;

/// What a local server runs, for a person to read before it first starts. Every piece comes
/// from a file someone else wrote: each is one line, its line breaks and tabs written out, so
/// none can fake a line of the plan or push a warning out of sight.
pub fn launch_text(plan: &LaunchPlan) -> String {
    let mut text = format!("    runs:  {}", shell_quoted(&plan.command));
    for arg in &plan.args {
        text.push(' ');
        text.push_str(&shell_quoted(arg));
    }
    text.push_str(&format!(
        "\n    in:    {}",
        plan.cwd
            .as_deref()
            .map(|c| one_line(&c.display().to_string()))
            .unwrap_or_else(|| "Patchbay's working directory".into())
    ));
    if plan.env.is_empty() {
        text.push_str("\n    env:   (none of its own)");
    }
    for e in &plan.env {
        text.push_str(&format!(
            "\n    env:   {}={}",
            one_line(&e.name),
            one_line(&e.value)
        ));
        if e.changes_what_runs {
            text.push_str("   <- changes what runs");
        }
    }
    text.push_str(&format!("\n    {}", plan.inherits));
    for w in &plan.warnings {
        text.push_str(&format!("\n    warning: {}", one_line(w)));
    }
    text
}

/// `text` on one line: line breaks, carriage returns and tabs written as `\n`, `\r`, `\t`
/// (the rest of what a terminal must not see is escaped when the line is printed).
fn one_line(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .replace('\t', "\\t")
}

/// An argument as a shell would need it, so the printed line is the command line (with
/// `$'...'` where it holds a line break or a tab, written out).
fn shell_quoted(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        arg.to_string()
    } else if arg.chars().any(|c| c.is_control()) {
        format!("$'{}'", one_line(arg).replace('\'', "\\'"))
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_cannot_fake_its_own_lines() {
        let plan = LaunchPlan {
            server: "x".into(),
            command: "npx\n    env:   SAFE=1".into(),
            args: vec!["-y".into(), "a b".into(), "c\nwarning: none".into()],
            env: vec![patchbay_engine::EnvEntry {
                name: "MODE".into(),
                value: "1\n    in:    /home".into(),
                changes_what_runs: false,
            }],
            cwd: None,
            warnings: vec![],
            inherits: "It also gets ...".into(),
            digest: String::new(),
        };
        let text = launch_text(&plan);
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.contains("$'npx\\n    env:   SAFE=1'"), "{text}");
        assert!(
            text.contains("'a b'") && text.contains("$'c\\nwarning: none'"),
            "{text}"
        );
        assert!(text.contains("MODE=1\\n    in:    /home"), "{text}");
    }
}
