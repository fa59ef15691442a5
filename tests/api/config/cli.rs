//! `portico export` and `portico apply`, run as an operator would.

use crate::cli::{portico, stderr_lines, stdout};
use crate::helpers::TestApp;

const KEY: &str = "0123456789abcdef0123456789abcdef-config";

async fn run(app: &TestApp, args: &[&str]) -> std::process::Output {
    let url = app.database_url();
    portico(
        &[("DATABASE_URL", url.as_str()), ("PORTICO_SECRET_KEY", KEY)],
        args,
    )
    .await
}

#[tokio::test]
async fn export_writes_yaml_that_apply_plans_applies_and_then_finds_unchanged() {
    let (app, _) = super::demo().await;
    let exported = run(&app, &["export", "--tenant", "contoso"]).await;
    assert!(exported.status.success(), "{:?}", stderr_lines(&exported));
    let yaml = stdout(&exported);
    assert!(yaml.starts_with("version: 1\n"), "{yaml}");
    assert!(yaml.contains("name: Sales CRM"), "{yaml}");

    // Applying what was exported changes nothing.
    let dir = tempfile_dir();
    let file = dir.join("contoso.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let path = file.to_str().unwrap();
    let same = run(&app, &["apply", "--tenant", "contoso", "-f", path]).await;
    assert!(same.status.success(), "{:?}", stderr_lines(&same));
    assert_eq!(
        stdout(&same).trim(),
        "No changes: the tenant already matches the document."
    );

    // A change in the file: --plan lists it and writes nothing; apply makes it.
    let edited = yaml.replacen(
        "description: Read and update customer accounts and opportunities in the sales CRM.",
        "description: The sales CRM, reviewed in git.",
        1,
    );
    assert_ne!(edited, yaml, "the demo's CRM description is in the export");
    std::fs::write(&file, &edited).unwrap();
    let planned = run(
        &app,
        &["apply", "--tenant", "contoso", "-f", path, "--plan"],
    )
    .await;
    assert!(planned.status.success(), "{:?}", stderr_lines(&planned));
    let lines = stdout(&planned);
    assert!(
        lines.contains("~ accessPackage General / Sales CRM (description)  [packages[1]]"),
        "{lines}"
    );
    assert!(
        lines.contains("Plan: 0 to create, 1 to update, 0 to delete."),
        "{lines}"
    );
    let unchanged = run(&app, &["export", "--tenant", "contoso"]).await;
    assert_eq!(stdout(&unchanged), yaml, "--plan writes nothing");

    let applied = run(&app, &["apply", "--tenant", "contoso", "-f", path]).await;
    assert!(applied.status.success(), "{:?}", stderr_lines(&applied));
    assert!(
        stdout(&applied).contains("Applied: 0 to create, 1 to update, 0 to delete."),
        "{}",
        stdout(&applied)
    );
    let after = run(&app, &["export", "--tenant", "contoso"]).await;
    assert_eq!(stdout(&after), edited);
}

#[tokio::test]
async fn a_wrong_file_is_refused_with_every_error_on_its_own_line() {
    let (app, _) = super::demo().await;
    let dir = tempfile_dir();
    let file = dir.join("wrong.yaml");
    std::fs::write(
        &file,
        "version: 1\npackages:\n- name: Laptops\n  catalog: Nowhere\n- name: Phones\n  catalog: General\n  roles:\n  - resource: Phones\n    role: Member\n",
    )
    .unwrap();
    let out = run(
        &app,
        &["apply", "--tenant", "contoso", "-f", file.to_str().unwrap()],
    )
    .await;
    assert!(!out.status.success());
    let errors = stderr_lines(&out).join("\n");
    assert!(errors.contains("nothing was changed"), "{errors}");
    assert!(
        errors.contains("packages[0].catalog: no catalog named Nowhere"),
        "{errors}"
    );
    assert!(
        errors.contains(
            "packages[1].roles[0].resource: catalog General has no resource named Phones"
        ),
        "{errors}"
    );

    std::fs::write(&file, "catalogs: [unclosed\n").unwrap();
    let out = run(
        &app,
        &["apply", "--tenant", "contoso", "-f", file.to_str().unwrap()],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        stderr_lines(&out).join("\n").contains("document:"),
        "{:?}",
        stderr_lines(&out)
    );

    let out = run(
        &app,
        &[
            "export",
            "--tenant",
            "contoso",
            "--as",
            "megan@contoso.example",
        ],
    )
    .await;
    assert!(!out.status.success(), "only tenant admins export");
    assert!(
        stderr_lines(&out).join("\n").contains("tenant admins only"),
        "{:?}",
        stderr_lines(&out)
    );
}

/// A directory of this test's own, removed with the process's temp files.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("portico-config-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
