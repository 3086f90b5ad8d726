use super::*;

fn vars(pairs: &[(&str, &str)]) -> Variables {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                Variable {
                    value: v.to_string(),
                    secret: false,
                },
            )
        })
        .collect()
}

fn compose(src: &str, pairs: &[(&str, &str)]) -> String {
    substitute(Path::new("app.yml"), src, &vars(pairs), Target::Compose)
        .unwrap()
        .text
}

fn error(src: &str, pairs: &[(&str, &str)]) -> String {
    substitute(Path::new("app.yml"), src, &vars(pairs), Target::Compose)
        .unwrap_err()
        .to_string()
}

#[test]
fn only_values_change_keys_and_comments_stay() {
    let src =
        "# ${NOPE} in a comment\nx:\n  K${A}: v # ${NOPE:?no}\n  plain: ${A}\n  q: \"${A} \"\n";
    assert_eq!(
        compose(src, &[("A", "val")]),
        "# ${NOPE} in a comment\nx:\n  K${A}: v # ${NOPE:?no}\n  plain: val\n  q: \"val \"\n"
    );
}

#[test]
fn values_are_inserted_literally_and_stay_strings() {
    let src = "a: ${D}\nb: ${Y}\nc: ${N}\nd: '${Q}'\ne: [\"${A}\", \"${Y}\"]\nf: ${H}\n";
    let out = compose(
        src,
        &[
            ("D", "x$y"),
            ("Y", "yes"),
            ("N", "0b101"),
            ("Q", "it's"),
            ("A", "a,b"),
            ("H", "x #y"),
        ],
    );
    assert_eq!(
        out,
        "a: x$$y\nb: \"yes\"\nc: \"0b101\"\nd: 'it''s'\ne: [\"a,b\", \"yes\"]\nf: \"x #y\"\n"
    );
}

#[test]
fn kubernetes_keeps_dollars_and_plain_numbers() {
    let src = "port: ${P}\nv: ${Y}\nd: ${D}\nq: \"${P}\"\n";
    let out = substitute(
        Path::new("pod.yml"),
        src,
        &vars(&[("P", "8080"), ("Y", "yes"), ("D", "a$b")]),
        Target::Kubernetes,
    )
    .unwrap()
    .text;
    assert_eq!(out, "port: 8080\nv: \"yes\"\nd: a$b\nq: \"8080\"\n");
}

#[test]
fn block_scalars_become_one_quoted_string_and_keep_what_follows() {
    let src = "a: |\n  one ${A}\n  two\nb: >-\n  x\n  ${A}\n\nc: z\n";
    let out = compose(src, &[("A", "v\"1")]);
    assert_eq!(out, "a: \"one v\\\"1\\ntwo\\n\"\nb: \"x v\\\"1\"\n\nc: z\n");
}

#[test]
fn anchors_and_aliases_follow_the_substituted_value() {
    let src = "a: &x ${A}\nb: *x\n";
    assert_eq!(compose(src, &[("A", "v")]), "a: &x v\nb: *x\n");
}

#[test]
fn multi_line_plain_scalar_and_newline_values() {
    let src = "a: one\n  ${A}\nb: ${B}\n";
    assert_eq!(
        compose(src, &[("A", "v"), ("B", "l1\nl2")]),
        "a: \"one v\"\nb: \"l1\\nl2\"\n"
    );
}

#[test]
fn unresolved_names_file_line_col_and_closest_names() {
    let src = "services:\n  s:\n    image: x\n    environment:\n      H: ${DB_HOTS}\n";
    let e = error(src, &[("DB_HOST", "h"), ("APP", "a"), ("DB_PORT", "1")]);
    assert!(
        e.starts_with("app.yml:5:10: variable `DB_HOTS` is not defined"),
        "{e}"
    );
    assert!(e.contains("defined here: DB_HOST, DB_PORT, APP"), "{e}");
}

#[test]
fn required_message_and_unportable_constructs_are_located() {
    let e = error("a:\n  - x ${U:?set U first}\n", &[]);
    assert!(
        e.starts_with("app.yml:2:7: variable `U` is required: set U first"),
        "{e}"
    );
    let e = error("a: ${A:+alt}\n", &[("A", "1")]);
    assert!(e.starts_with("app.yml:1:4: `${A:+alt}` is refused"), "{e}");
    assert!(e.contains("v2 only"), "{e}");
    let e = error("a: \"cost 5$\"\n", &[]);
    assert!(e.starts_with("app.yml:1:11: `$` is refused"), "{e}");
    assert!(e.contains("write `$$`"), "{e}");
}

#[test]
fn bad_yaml_is_reported_with_its_place() {
    let e = error("a: [\nb: c\n", &[]);
    assert!(e.starts_with("app.yml:"), "{e}");
    assert!(e.contains("not valid YAML"), "{e}");
}

#[test]
fn a_secret_never_reaches_an_error() {
    let mut v = vars(&[]);
    v.insert(
        "PASSWORD".into(),
        Variable {
            value: "hunter2".into(),
            secret: true,
        },
    );
    let e = substitute(
        Path::new("a.yml"),
        "a: ${PASSWORD}${NOPE}\n",
        &v,
        Target::Compose,
    )
    .unwrap_err()
    .to_string();
    assert!(!e.contains("hunter2"), "{e}");
    assert!(format!("{v:?}").find("hunter2").is_none());
}

#[test]
fn occurrences_give_each_place() {
    let src = "a: ${A} ${A}\nb:\n  - x${B:-d}\n";
    let s = substitute(
        Path::new("f.yml"),
        src,
        &vars(&[("A", "1")]),
        Target::Compose,
    )
    .unwrap();
    let got: Vec<(String, u64, u64, Option<String>)> = s
        .occurrences
        .iter()
        .map(|o| (o.name.clone(), o.line, o.column, o.default_used.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("A".into(), 1, 4, None),
            ("A".into(), 1, 9, None),
            ("B".into(), 3, 6, Some("d".into())),
        ]
    );
}
