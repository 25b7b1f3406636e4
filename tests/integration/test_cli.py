"""The `cmaa` command line, as an operator runs it."""

from __future__ import annotations

from tests.servers import cli_env, cmaa


def test_first_run_prints_the_operator_credential_once_and_generates_node_keys(tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'cmaa.db'}")
    first = cmaa(env, "init")
    assert first.returncode == 0, first.stderr
    assert "shown once" in first.stderr and "cmaa." in first.stderr
    second = cmaa(env, "init")
    assert "shown once" not in second.stderr
    keys = tmp_path / "data" / "keys"
    assert {p.name for p in keys.iterdir()} == {"node-sig.pem", "pd-master.key", ".passphrase"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in keys.iterdir())


def test_operator_designates_issues_and_revokes_from_the_cli(tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    assert cmaa(env, "officials", "add", "no-hansen", "--name", "Kari Hansen", "--role", "official",
                "--role", "auditor").returncode == 0
    token = cmaa(env, "credentials", "issue", "no-hansen").stdout.strip()
    assert token.startswith("cmaa.")
    listing = cmaa(env, "officials", "list").stdout
    assert "no-hansen" in listing and "official, auditor" in listing
    revoked = cmaa(env, "credentials", "revoke", token.split(".")[1], "--reason", "rotated")
    assert revoked.returncode == 0, revoked.stderr


def test_cli_refusals_name_the_rule_and_exit_non_zero(tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    refused = cmaa(env, "partners", "add", "SE", "--name", "Sweden", "--agreement", "jp-no-2016")
    assert refused.returncode == 1
    assert "JP-NO Art. 2(1)" in refused.stderr
    assert "Traceback" not in refused.stderr
    unknown = cmaa(env, "credentials", "issue", "nobody")
    assert unknown.returncode == 1 and "nobody" in unknown.stderr


def test_keys_are_issued_only_to_designated_officials_and_a_name_is_required(tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    assert cmaa(env, "officials", "add", "ola", "--name", "Ola Operator", "--role", "operator").returncode == 0
    for command in ("issue", "rotate"):
        refused = cmaa(env, "keys", command, "ola")
        assert refused.returncode == 1, refused.stdout
        assert "refused: keys are issued only to officials holding the official role" in refused.stderr
    assert "ola" not in cmaa(env, "keys", "list").stdout
    # A revoked official's keys stay listed (they verify history) but are no longer published.
    assert cmaa(env, "officials", "add", "kari", "--name", "Kari Hansen", "--role", "official").returncode == 0
    assert cmaa(env, "officials", "revoke", "kari", "--reason", "left").returncode == 0
    listed = [line.split() for line in cmaa(env, "keys", "list").stdout.splitlines()[1:]]
    assert [(row[1], row[-1]) for row in listed] == [("kari", "no"), ("kari", "no")]
    blank = cmaa(env, "officials", "add", "x1", "--name", " ", "--role", "official")
    assert blank.returncode == 1 and "name is required" in blank.stderr
    assert "x1" not in cmaa(env, "officials", "list").stdout


def test_agreement_termination_is_recorded_from_the_cli(tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    result = cmaa(env, "agreements", "period", "jp-no-2016", "--termination-notified-on", "2027-01-15")
    assert result.returncode == 0, result.stderr
    assert '"terminated_from": "2027-04-15"' in result.stdout


def test_a_deployment_parameter_is_set_from_the_cli(tmp_path):
    """Nordic Art. 10(2)'s minimum is deployment data: set by the operator, recorded with who and when."""
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    result = cmaa(env, "agreements", "set-parameter", "nordic-1981", "recovery.minimum", '{"NOK": "2500"}')
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith('nordic-1981 recovery.minimum set to {"NOK": "2500"} (Nordic Art. 10(2)); recorded by cli:')
    assert "\n" not in line and '"article"' not in line  # a sentence, not the directory's JSON record


def test_a_bad_setting_is_named_at_start_up(tmp_path):
    env = cli_env(tmp_path / "data", "mysql://nope/x")
    result = cmaa(env, "init")
    assert result.returncode != 0
    assert "CMAA_DATABASE_URL" in result.stderr
    bad_admin = cmaa({**env, "CMAA_ADMINISTRATION": "Norway"}, "init")
    assert bad_admin.returncode == 2
    assert "CMAA_ADMINISTRATION" in bad_admin.stderr
    assert "Traceback" not in result.stderr + bad_admin.stderr


def test_serve_on_a_fresh_store_without_a_terminal_writes_the_first_credential_to_a_private_file(tmp_path):
    import httpx

    from tests.servers import node_process

    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'cmaa.db'}")
    with node_process(env) as base:  # stderr goes to a log file, as under a service manager
        path = tmp_path / "data" / "first-operator.token"
        assert path.stat().st_mode & 0o077 == 0
        token = path.read_text().strip()
        assert httpx.get(f"{base}/directory", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # (the suite's log scan fails the run if the credential reached the node's log)


def test_the_dpo_reports_sweeps_and_erases_from_the_cli(tmp_path):
    import json

    from adapters.clock import FixedClock
    from service.node import build_node, initialise
    from service.settings import Settings
    from tests.conftest import NOW
    from tests.factories import client_for, configure, jp_no_request

    data, url = tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}"
    node = build_node(Settings(data_dir=data, database_url=url, administration="NO"), clock=FixedClock(NOW))
    who = configure(node)
    with client_for(node) as api:
        case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    node.close()
    env = cli_env(data, url)
    assert cmaa(env, "officials", "add", "dpo", "--name", "Data Protection Officer", "--role", "dpo").returncode == 0
    dpo_token, official_token = tmp_path / "dpo.token", tmp_path / "official.token"
    dpo_token.write_text(cmaa(env, "credentials", "issue", "dpo").stdout)
    official_token.write_text(cmaa(env, "credentials", "issue", "no-hansen").stdout)
    as_dpo = ("--token-file", str(dpo_token))
    subject = tmp_path / "subject.json"
    subject.write_text(json.dumps({"identifiers": [{"scheme": "company_registration", "value": "NO-987654321"}]}))
    report = cmaa(env, "dpo", "report", *as_dpo, "--subject-file", str(subject))
    assert report.returncode == 0, report.stderr
    [case] = json.loads(report.stdout)["cases"]
    assert case["case_id"] == case_id and case["held"][0]["value"]["name"] == "Nordlys Import AS"
    not_dpo = cmaa(env, "dpo", "report", "--token-file", str(official_token), "--subject-file", str(subject))
    assert not_dpo.returncode == 1 and "dpo role" in not_dpo.stderr
    sweep = cmaa(env, "dpo", "sweep")
    assert sweep.returncode == 0 and "0 key(s) destroyed" in sweep.stdout
    erased = cmaa(env, "dpo", "erase", *as_dpo, "--id", "company_registration:NO-987654321",
                  "--rule", "GDPR Art. 17")
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout)["keys_erased"] == 1
    again = json.loads(cmaa(env, "dpo", "report", *as_dpo, "--subject-file", str(subject)).stdout)
    assert again["cases"][0]["held"][0]["erased"].startswith("[erased on ")
    assert "GDPR Art. 17" in again["cases"][0]["held"][0]["erased"]
    activity = json.loads(cmaa(env, "dpo", "activity", *as_dpo).stdout)
    assert {"access report", "erasure"} <= {a["action"] for a in activity}


def test_credentials_list_shows_ids_officials_expiry_and_revocation_but_never_a_token(tmp_path):
    env = {**cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}"), "COLUMNS": "60"}  # a narrow terminal
    init = cmaa(env, "init")
    assert init.returncode == 0, init.stderr
    cmaa(env, "officials", "add", "no-hansen", "--name", "Kari Hansen", "--role", "official")
    cmaa(env, "officials", "add", "no-audit", "--name", "Internal Audit", "--role", "auditor")
    lost = cmaa(env, "credentials", "issue", "no-hansen").stdout.strip()
    expiring = cmaa(env, "credentials", "issue", "no-audit", "--expires-in-days", "90").stdout.strip()
    operator = next(w for w in init.stderr.split() if w.startswith("cmaa."))  # printed once by init
    assert cmaa(env, "credentials", "revoke", lost.split(".")[1], "--reason", "laptop lost").returncode == 0

    listing = cmaa(env, "credentials", "list")
    assert listing.returncode == 0, listing.stderr
    shown = listing.stdout + listing.stderr
    for token in (lost, expiring, operator):
        _, token_id, secret = token.split(".")
        assert token not in shown and secret not in shown and secret[:12] not in shown
        assert token_id in shown  # whole, even in a narrow terminal: `credentials revoke` takes it
    rows = {line.split()[0]: line.split() for line in listing.stdout.splitlines()[1:]}
    assert rows[lost.split(".")[1]][1] == "no-hansen" and rows[lost.split(".")[1]][4] != "no"  # revoked, when
    assert rows[expiring.split(".")[1]][1] == "no-audit" and rows[expiring.split(".")[1]][3] != "never"
    assert rows[expiring.split(".")[1]][4] == "no"
    assert rows[operator.split(".")[1]][1:] and rows[operator.split(".")[1]][3] == "never"
    assert listing.stdout.splitlines()[0].split() == ["id", "official", "issued", "expires", "revoked"]


def test_serve_on_an_empty_data_directory_says_it_creates_the_node(tmp_path):
    import subprocess
    import sys

    from tests.servers import free_port, wait_until

    data = tmp_path / "data"
    env = cli_env(data, f"sqlite:///{data / 'cmaa.db'}")
    serve = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(free_port())], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (data / "first-operator.token").exists() or serve.poll() is not None)
    finally:
        serve.terminate()
        _, stderr = serve.communicate(timeout=20)
    said = " ".join(stderr.split())
    assert f"no node at {data}: creating the node of NO" in said, stderr[-2000:]


def test_an_operator_refreshes_a_partner_directory_and_sees_the_outcome_in_the_partner_list(tmp_path, clock):
    from service.node import initialise
    from tests.factories import make_node
    from tests.servers import free_port

    jp = make_node(f"sqlite:///{tmp_path / 'jp.db'}", tmp_path / "jp", clock, administration="JP",
                   administration_name="Japan Customs", public_url=f"http://127.0.0.1:{free_port()}")  # nobody there
    initialise(jp)
    (tmp_path / "jp.jws").write_text(jp.exchange.export_directory())
    fingerprint = jp.exchange.node_fingerprint()
    jp.close()
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}", COLUMNS="250")
    assert cmaa(env, "init").returncode == 0
    assert cmaa(env, "partners", "add", "JP", "--name", "Japan Customs", "--agreement", "jp-no-2016").returncode == 0
    assert cmaa(env, "partners", "import-directory", "JP", str(tmp_path / "jp.jws"), "--fingerprint",
                fingerprint).returncode == 0
    assert "never" in cmaa(env, "partners", "list").stdout
    refreshed = cmaa(env, "partners", "refresh-directory", "JP")
    assert refreshed.returncode == 1 and "failed" in refreshed.stderr and "unreachable" in refreshed.stderr
    assert "Traceback" not in refreshed.stderr
    listing = cmaa(env, "partners", "list").stdout
    assert "failed" in listing and "(operator)" in listing and "unreachable" in listing
    assert cmaa(env, "partners", "refresh-directory", "SE").returncode == 1


def test_a_warning_logged_during_a_command_says_which_partner_and_why(tmp_path):
    """The node's log lines reach the operator of a one-shot command with their reasons, not as a bare message."""
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    assert cmaa(env, "partners", "add", "JP", "--name", "Japan Customs", "--agreement", "jp-no-2016",
                "--endpoint", "http://127.0.0.1:9").returncode == 0
    result = cmaa(env, "partners", "refresh-directory", "JP")
    assert result.returncode == 1
    logged = [line for line in result.stderr.splitlines() if "partner directory not refreshed" in line]
    assert logged == ["warning: partner directory not refreshed (partner: JP, trigger: operator, reason: no directory "
                      "imported yet: import one by hand first, to pin the partner's node key)"], result.stderr
    assert len(result.stderr.strip().splitlines()) == 2


def test_backup_says_where_the_store_and_the_keys_went(tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}",
                  CMAA_BACKUP_PASSPHRASE="a-long-backup-passphrase")
    assert cmaa(env, "init").returncode == 0
    result = cmaa(env, "backup", str(tmp_path / "backups" / "today"), "--keys-output",
                  str(tmp_path / "vault" / "today.keys.enc"))
    assert result.returncode == 0, result.stderr
    assert f"the keys to {tmp_path / 'vault' / 'today.keys.enc'};" in result.stdout
    assert f"the store to {tmp_path / 'backups' / 'today'}/" in result.stdout
    import shutil

    shutil.rmtree(tmp_path / "data")
    (tmp_path / "cmaa.db").unlink()
    restored = cmaa(env, "restore", str(tmp_path / "backups" / "today"), "--keys",
                    str(tmp_path / "vault" / "today.keys.enc"))
    assert restored.returncode == 0, restored.stderr
    assert f"restored the store {tmp_path / 'cmaa.db'} and " in restored.stdout
    assert f"key file(s) in {tmp_path / 'data' / 'keys'} from {tmp_path / 'backups' / 'today'};" in restored.stdout


def test_help_flows_in_sentences_and_a_verified_bundle_prints_no_blank_line(tmp_path):
    import os

    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}", COLUMNS="200")
    listing = cmaa(env, "audit", "--help").stdout
    assert "node key); recorded as a read. Auditors can also fetch it" in listing  # not broken after "key);"
    assert "its last refresh from the partner's endpoint" in cmaa(env, "partners", "--help").stdout
    assert cmaa(env, "init").returncode == 0
    assert cmaa(env, "audit", "export", "--output", str(tmp_path / "bundle.json")).returncode == 0
    verified = cmaa({**env, "COLUMNS": os.environ.get("COLUMNS", "80")}, "audit", "verify",
                    str(tmp_path / "bundle.json"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stderr == "" and verified.stdout.startswith("VERIFIED: ")


def test_help_names_arguments_plainly_and_gives_flags_no_type():
    import os

    env = {**os.environ, "COLUMNS": "200"}
    restore = cmaa(env, "restore", "--help").stdout
    assert " restore [OPTIONS] SRC " in restore and "{src}" not in restore
    assert "<path>" in restore and "<bool>" not in restore  # --force takes no value
    assert " audit verify [OPTIONS] SOURCE " in cmaa(env, "audit", "verify", "--help").stdout


def test_an_agreement_period_without_an_option_is_refused_in_one_line(tmp_path):
    """It recorded an empty change (and withdrew a termination notice not yet in effect)."""
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    result = cmaa(env, "agreements", "period", "jp-no-2016")
    assert result.returncode == 2, result.stdout
    error = result.stderr.splitlines()[0]  # then the CLI's usual pointer to --help
    assert error.startswith("error: ") and "--in-force-from" in error and "--termination-notified-on" in error
