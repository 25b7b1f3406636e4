"""The DPO and the auditor act as themselves from the CLI: with their own credential, or recorded as
the operator acting locally with the host user, never as a role name taken on trust."""

from __future__ import annotations

import getpass
import json

from tests.servers import cli_env, cmaa, node_process


def test_dpo_commands_without_a_credential_are_recorded_as_the_host_user_not_as_dpo(tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    first = cmaa(env, "dpo", "activity")  # a DPO read, itself recorded in the activity log
    assert first.returncode == 0, first.stderr
    activity = json.loads(cmaa(env, "dpo", "activity").stdout)
    assert [(a["official"], a["action"]) for a in activity] == [(f"cli:{getpass.getuser()}", "activity log read")]
    assert cmaa(env, "dpo", "activity", "--as", "dpo").returncode == 2  # no role name taken on trust


def test_a_credential_that_is_not_valid_or_lacks_the_role_is_refused(tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    assert cmaa(env, "officials", "add", "no-hansen", "--name", "Kari", "--role", "official").returncode == 0
    official = cmaa(env, "credentials", "issue", "no-hansen").stdout.strip()
    lacking = cmaa({**env, "CMAA_TOKEN": official}, "dpo", "activity")
    assert lacking.returncode == 1 and "does not hold the dpo role" in lacking.stderr
    forged = cmaa({**env, "CMAA_TOKEN": official[:-4] + "AAAA"}, "dpo", "activity")
    assert forged.returncode == 1 and "not valid" in forged.stderr
    bundle = cmaa({**env, "CMAA_TOKEN": official}, "audit", "export", "--output", str(tmp_path / "b.json"))
    assert bundle.returncode == 1 and "auditor role" in bundle.stderr and not (tmp_path / "b.json").exists()


def test_an_auditor_verifies_a_node_from_their_own_machine(tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    assert cmaa(env, "officials", "add", "no-audit", "--name", "Auditor", "--role", "auditor").returncode == 0
    token = tmp_path / "auditor.token"
    token.write_text(cmaa(env, "credentials", "issue", "no-audit").stdout)
    auditors_machine = {"PATH": env["PATH"]}  # no CMAA_* settings, no node, no database
    with node_process(env) as base:
        verified = cmaa(auditors_machine, "audit", "verify", base, "--token-file", str(token),
                        "--purpose", "annual audit")
        assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout + verified.stderr
        (tmp_path / "forged.token").write_text(token.read_text().strip()[:-4] + "AAAA")
        refused = cmaa(auditors_machine, "audit", "verify", base, "--token-file", str(tmp_path / "forged.token"))
        assert refused.returncode == 2 and "401" in refused.stderr
