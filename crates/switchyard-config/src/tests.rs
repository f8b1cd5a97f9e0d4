use super::*;

fn env(k: &str) -> Option<String> {
    match k {
        "MOCK_URL" => Some("http://127.0.0.1:9999".into()),
        "KEY" => Some("sk-secret".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:0"
workers = 2

[providers.mock]
base_url = "${MOCK_URL}/v1"
api_key = "${KEY}"

[models.small]
provider = "mock"
model = "gpt-4o-mini"
"#;

#[test]
fn parses_and_expands() {
    let c = Config::parse(GOOD, &env).unwrap();
    assert_eq!(c.providers["mock"].base_url, "http://127.0.0.1:9999/v1");
    assert_eq!(c.providers["mock"].api_key.as_deref(), Some("sk-secret"));
    assert_eq!(c.server.workers, 2);
    assert_eq!(c.server.max_head_bytes, 16 * 1024, "defaults fill the rest");
}

#[test]
fn expansion_forms() {
    assert_eq!(expand_str("a${KEY}b", &env).unwrap(), "ask-secretb");
    assert_eq!(expand_str("${NOPE:-dflt}", &env).unwrap(), "dflt");
    assert_eq!(expand_str("${EMPTY:-dflt}", &env).unwrap(), "dflt");
    assert_eq!(expand_str("${EMPTY}", &env).unwrap(), "");
    assert_eq!(expand_str("$$5 and $x", &env).unwrap(), "$5 and $x");
    assert!(expand_str("${NOPE}", &env).unwrap_err().contains("NOPE"));
    assert!(expand_str("${KEY", &env).is_err());
    assert!(expand_str("${BAD-NAME}", &env).is_err());
}

fn err(text: &str) -> ConfigError {
    Config::parse(text, &env).unwrap_err()
}

#[test]
fn errors_name_the_field() {
    let e = err(&GOOD.replace("${KEY}", "${MISSING_VAR}"));
    assert_eq!(e.field, "providers.mock.api_key");
    assert!(e.message.contains("MISSING_VAR"));

    let e = err(&GOOD.replace("provider = \"mock\"", "provider = \"nope\""));
    assert_eq!(e.field, "models.small.provider");

    let e = err(&GOOD.replace("${MOCK_URL}/v1", "localhost:80"));
    assert_eq!(e.field, "providers.mock.base_url");

    let e = err(&GOOD.replace("workers = 2", "workers = \"two\""));
    assert_eq!(e.field, "server.workers");

    let e = err(&GOOD.replace("workers = 2", "wrokers = 2"));
    assert!(e.field.starts_with("server"), "{e}");
    assert!(e.message.contains("wrokers"), "{e}");

    let e = err(&GOOD.replace("127.0.0.1:0", "nowhere"));
    assert_eq!(e.field, "server.listen");

    let e = err(&GOOD.replace("\"gpt-4o-mini\"", "\"\""));
    assert_eq!(e.field, "models.small.model");

    let e = err("[server]\nlisten = \"127.0.0.1:1\"\n");
    assert_eq!(e.field, "models");

    let e = err("[server\n");
    assert_eq!(e.field, "<file>");

    let route = "[routes.auto]\ntiers = [{ name = \"t\", models = [\"small\"] }]\n";
    for bad in ["0.0", "1.5", "-0.2", "nan"] {
        let e = err(&format!("{GOOD}{route}cache = {{ similarity = {bad} }}\n"));
        assert_eq!(e.field, "routes.auto.cache.similarity", "{bad}: {e}");
    }
    let ok = format!("{GOOD}{route}cache = {{ similarity = 0.9 }}\n");
    assert_eq!(Config::parse(&ok, &env).unwrap().routes["auto"].cache.as_ref().unwrap().similarity, Some(0.9));
}

#[test]
fn secrets_are_not_echoed_in_errors() {
    let e = err(&GOOD.replace("provider = \"mock\"", "provider = 5"));
    assert!(!e.to_string().contains("sk-secret"));
}

#[test]
fn errors_under_empty_table_names_still_name_a_field() {
    // Found by fuzzing (`fuzz/fuzz_targets/config.rs`): the path of an empty key printed as "".
    let e = Config::parse("[\"\".1]", &env).unwrap_err();
    assert!(!e.field.is_empty(), "{e:?}");
    let e = Config::parse("[\"\"]\nx = 1\n", &env).unwrap_err();
    assert!(!e.field.is_empty(), "{e:?}");
}

#[test]
fn config_errors_never_show_a_secret_value() {
    let secret = "sk-live-Zx81Qw7Ty6Ui5Op4";
    let cases = [
        // An unquoted key is a TOML syntax error on the secret's own line.
        format!("[providers.p]\nbase_url = \"https://x/v1\"\napi_key = {secret}\n[models.m]\nprovider = \"p\"\n"),
        // A value of the wrong type is quoted back by serde.
        format!(
            "[providers.p]\nbase_url = \"https://x/v1\"\napi_key = \"x\"\napi_keys = \"{secret}\"\n[models.m]\nprovider = \"p\"\n"
        ),
        format!(
            "[admin]\nkey_hash = [\"{secret}\"]\n[providers.p]\nbase_url = \"https://x/v1\"\n[models.m]\nprovider = \"p\"\n"
        ),
    ];
    for text in &cases {
        let e = Config::parse(text, &env).expect_err("an invalid config");
        let shown = e.to_string();
        assert!(!shown.contains(secret), "the secret reached the error: {shown}");
        assert!(shown.contains("api_key") || shown.contains("key_hash"), "the field is still named: {shown}");
    }
    // Other fields still show what was wrong with them.
    let e = Config::parse(
        "[server]\nworkers = \"many\"\n[providers.p]\nbase_url = \"https://x/v1\"\n[models.m]\nprovider = \"p\"\n",
        &env,
    )
    .expect_err("a string for a number");
    assert!(e.to_string().contains("many"), "{e}");
    let e = Config::parse("[server]\nlisten = 127.0.0.1:8080\n", &env).expect_err("unquoted");
    assert!(e.to_string().contains("listen = 127.0.0.1:8080") && e.to_string().contains("line 2"), "{e}");
}
