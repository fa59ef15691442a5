//! `Slapd`: a real OpenLDAP server (Debian's `slapd`, installed by `.ci/run`) run as a
//! child process for the LDAP connector tests. Each one lives in its own temporary
//! directory with a generated `slapd.conf` (mdb backend, suffix `dc=example,dc=test`,
//! the core, cosine, inetorgperson and nis schemas), listens on a free port on
//! 127.0.0.1, and starts with the people and groups below. `stop` and `restart` keep
//! the port and the data, so a test can take the server down and bring it back.
//! Dropping it kills the process and removes the directory.
//!
//! `start_tls` also makes a test CA and a certificate for 127.0.0.1 (with `openssl`) and
//! offers StartTLS and LDAPS with it.
//!
//! People (`ou=people`, inetOrgPerson with `mail` and `uid`): ada, grace, "Smith, John"
//! (a comma in the DN), obrien (whose mail has `(`, `)` and `*`), nouid (no `uid`) and
//! two entries that share `twin@example.test`. Groups (`ou=groups`): staff
//! (groupOfNames), auditors (groupOfUniqueNames) and developers (posixGroup), each with
//! grace as its only member, and solo (groupOfNames) with only ada. The admin (the
//! rootdn) may do anything; `WRITER_DN` may write member attributes without reading or
//! comparing them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ldap3::{LdapConnAsync, Scope, SearchEntry};
use portico::connectors::ldap::{LdapConfig, LdapConfigInput};

pub const SUFFIX: &str = "dc=example,dc=test";
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=test";
pub const ADMIN_PASSWORD: &str = "slapd-admin-secret";
pub const PEOPLE: &str = "ou=people,dc=example,dc=test";
pub const GROUPS: &str = "ou=groups,dc=example,dc=test";

pub const ADA: &str = "uid=ada,ou=people,dc=example,dc=test";
pub const GRACE: &str = "uid=grace,ou=people,dc=example,dc=test";
pub const JOHN: &str = "cn=Smith\\, John,ou=people,dc=example,dc=test";
pub const OBRIEN: &str = "uid=obrien,ou=people,dc=example,dc=test";
pub const OBRIEN_MAIL: &str = "o(brien)*@example.test";

/// A service account that may write the groups' member attributes but not compare
/// them, so a grant cannot check first and the modify's own answer decides.
pub const WRITER_DN: &str = "cn=writer,dc=example,dc=test";
pub const WRITER_PASSWORD: &str = "writer-secret";

pub const STAFF: &str = "cn=staff,ou=groups,dc=example,dc=test";
pub const AUDITORS: &str = "cn=auditors,ou=groups,dc=example,dc=test";
pub const DEVELOPERS: &str = "cn=developers,ou=groups,dc=example,dc=test";
pub const SOLO: &str = "cn=solo,ou=groups,dc=example,dc=test";

const SEED: &str = "\
dn: dc=example,dc=test
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people

dn: cn=writer,dc=example,dc=test
objectClass: person
cn: writer
sn: writer
userPassword: writer-secret

dn: ou=groups,dc=example,dc=test
objectClass: organizationalUnit
ou: groups

dn: uid=ada,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: ada
cn: Ada Lovelace
sn: Lovelace
mail: ada@example.test

dn: uid=grace,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: grace
cn: Grace Hopper
sn: Hopper
mail: grace@example.test

dn: cn=Smith\\, John,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
cn: Smith, John
sn: Smith
uid: jsmith
mail: john.smith@example.test

dn: uid=obrien,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: obrien
cn: Flann O'Brien
sn: O'Brien
mail: o(brien)*@example.test

dn: cn=No Uid,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
cn: No Uid
sn: Uid
mail: nouid@example.test

dn: uid=twin1,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: twin1
cn: Twin One
sn: One
mail: twin@example.test

dn: uid=twin2,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: twin2
cn: Twin Two
sn: Two
mail: twin@example.test

dn: cn=staff,ou=groups,dc=example,dc=test
objectClass: groupOfNames
cn: staff
member: uid=grace,ou=people,dc=example,dc=test

dn: cn=auditors,ou=groups,dc=example,dc=test
objectClass: groupOfUniqueNames
cn: auditors
uniqueMember: uid=grace,ou=people,dc=example,dc=test

dn: cn=developers,ou=groups,dc=example,dc=test
objectClass: posixGroup
cn: developers
gidNumber: 5000
memberUid: grace

dn: cn=solo,ou=groups,dc=example,dc=test
objectClass: groupOfNames
cn: solo
member: uid=ada,ou=people,dc=example,dc=test
";

/// A running (or stopped) slapd; killed and removed when dropped.
pub struct Slapd {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    tls: bool,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command, what: &str) -> std::process::Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} (apt-get install slapd ldap-utils): {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Debian installs slapd in /usr/sbin, which not every PATH has.
fn slapd_program() -> PathBuf {
    let debian = Path::new("/usr/sbin/slapd");
    if debian.exists() {
        debian.to_path_buf()
    } else {
        PathBuf::from("slapd")
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Slapd {
    /// A server with the seed data, plain LDAP only.
    pub async fn start() -> Slapd {
        Self::start_inner(false).await
    }

    /// A server with the seed data that also offers StartTLS on its port and LDAPS on
    /// `tls_port`, with a certificate for 127.0.0.1 signed by a test CA (`ca_file`).
    pub async fn start_tls() -> Slapd {
        Self::start_inner(true).await
    }

    async fn start_inner(tls: bool) -> Slapd {
        let dir = std::env::temp_dir().join(format!(
            "portico-slapd-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::create_dir_all(dir.join("db")).expect("the slapd directory");
        if tls {
            make_certificate(&dir);
        }
        write_config(&dir, tls);
        let mut last_error = String::new();
        // A port found free can be taken before slapd binds it: try a few.
        for _ in 0..5 {
            let mut slapd = Slapd {
                port: free_port(),
                dir: dir.clone(),
                child: None,
                tls,
            };
            match slapd.launch().await {
                Ok(()) => {
                    slapd.add(SEED).await;
                    return slapd;
                }
                Err(e) => {
                    last_error = e;
                    // Keep the directory for the next try.
                    slapd.dir = PathBuf::new();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("slapd did not start: {last_error}");
    }

    /// The LDAPS port: the next one up, when started with `start_tls`.
    pub fn tls_port(&self) -> u16 {
        assert!(self.tls, "started without TLS");
        self.port + 1
    }

    /// The test CA that signed the server's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn listen_urls(&self) -> String {
        let mut urls = format!("ldap://127.0.0.1:{}/", self.port);
        if self.tls {
            urls.push_str(&format!(" ldaps://127.0.0.1:{}/", self.port + 1));
        }
        urls
    }

    async fn launch(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("slapd.log")).map_err(|e| e.to_string())?;
        // `-d 0`: stay in the foreground (a child we can kill), log nothing extra.
        let child = Command::new(slapd_program())
            .arg("-f")
            .arg(self.dir.join("slapd.conf"))
            .arg("-h")
            .arg(self.listen_urls())
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run slapd (apt-get install slapd ldap-utils): {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                let log = std::fs::read_to_string(self.dir.join("slapd.log")).unwrap_or_default();
                return Err(format!("slapd exited with {status}: {log}"));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err("slapd did not listen within 20 seconds".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server (as a crash would); its port then refuses connections.
    pub fn stop(&mut self) {
        self.kill();
    }

    /// Starts the stopped server again on the same port with the same data.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "slapd is running");
        self.launch().await.expect("slapd restarts");
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// Adds entries with `ldapadd`, bound as the admin.
    pub async fn add(&self, ldif: &str) {
        let path = self
            .dir
            .join(format!("add-{}.ldif", uuid::Uuid::now_v7().simple()));
        std::fs::write(&path, ldif).expect("the LDIF file");
        let url = self.url();
        tokio::task::spawn_blocking(move || {
            run(
                Command::new("ldapadd")
                    .args(["-x", "-H", &url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, "-f"])
                    .arg(&path)
                    .stdin(Stdio::null()),
                "ldapadd",
            );
        })
        .await
        .expect("the ldapadd task");
    }

    /// The values of one attribute of one entry, read as the admin; empty when the
    /// entry has none.
    pub async fn values(&self, dn: &str, attribute: &str) -> Vec<String> {
        let (conn, mut ldap) = LdapConnAsync::new(&self.url()).await.expect("connect");
        tokio::spawn(async move {
            let _ = conn.drive().await;
        });
        ldap.simple_bind(ADMIN_DN, ADMIN_PASSWORD)
            .await
            .and_then(|r| r.success())
            .expect("admin bind");
        let (entries, _) = ldap
            .search(dn, Scope::Base, "(objectClass=*)", vec![attribute])
            .await
            .and_then(|r| r.success())
            .unwrap_or_else(|e| panic!("reading {dn}: {e}"));
        let _ = ldap.unbind().await;
        let entry = SearchEntry::construct(entries.into_iter().next().expect("the entry"));
        let mut values: Vec<String> = entry
            .attrs
            .into_iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(attribute))
            .flat_map(|(_, values)| values)
            .collect();
        values.sort();
        values
    }

    /// The connector's input for this server, bound as the admin.
    pub fn config_input(&self, member_attribute: &str) -> LdapConfigInput {
        LdapConfigInput {
            url: Some(self.url()),
            start_tls: Some(false),
            bind_dn: Some(ADMIN_DN.into()),
            bind_password: Some(ADMIN_PASSWORD.into()),
            base_dn: Some(PEOPLE.into()),
            user_filter: None,
            member_attribute: Some(member_attribute.into()),
        }
    }

    /// The connector for this server, bound as the admin.
    pub fn config(&self, member_attribute: &str) -> LdapConfig {
        LdapConfig::parse(&self.config_input(member_attribute)).expect("a valid LDAP config")
    }
}

fn write_config(dir: &Path, tls: bool) {
    let d = dir.display();
    let mut conf = format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
"
    );
    if tls {
        conf.push_str(&format!(
            "TLSCertificateFile {d}/cert.pem\nTLSCertificateKeyFile {d}/key.pem\n"
        ));
    }
    conf.push_str(&format!(
        "database mdb
maxsize 104857600
suffix \"{SUFFIX}\"
rootdn \"{ADMIN_DN}\"
rootpw {ADMIN_PASSWORD}
directory {d}/db
index objectClass eq
index mail eq
access to attrs=userPassword
    by anonymous auth
    by * none
access to dn.subtree=\"{GROUPS}\" attrs=member,uniqueMember,memberUid
    by dn.exact=\"{WRITER_DN}\" =w
    by * read
access to *
    by * read
"
    ));
    std::fs::write(dir.join("slapd.conf"), conf).expect("slapd.conf");
}

/// A test CA (`ca.pem`) and a certificate for 127.0.0.1 that it signed (`cert.pem`,
/// `key.pem`): TLS clients refuse a self-signed certificate used directly as a server's.
fn make_certificate(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(
        Command::new("openssl")
            .args(["req", "-x509", "-days", "2", "-subj", "/CN=Portico Test CA"])
            .args(ec)
            .current_dir(dir)
            .args(["-keyout", "ca.key", "-out", "ca.pem"])
            .stdin(Stdio::null()),
        "openssl req (CA)",
    );
    run(
        Command::new("openssl")
            .args(["req", "-subj", "/CN=127.0.0.1"])
            .args(ec)
            .current_dir(dir)
            .args(["-keyout", "key.pem", "-out", "server.csr"])
            .stdin(Stdio::null()),
        "openssl req (server)",
    );
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("the extensions file");
    run(
        Command::new("openssl")
            .args([
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
            ])
            .args([
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "cert.pem",
            ])
            .current_dir(dir)
            .stdin(Stdio::null()),
        "openssl x509 (sign)",
    );
}
