"""``[[imap.accounts]]`` in the TOML configuration file: the same fields as the URL form, secrets from
files, merged with HELPLINE_IMAP_ACCOUNTS (the environment wins), and every mistake named by file, table
index and key."""

from __future__ import annotations

import logging

import pytest

from helpline.ingest.channels.imap_accounts import imap_settings
from helpline.store.siteconfig import config_file
from helpline.store.config import ConfigError
from helpline.store.siteconfig.config_file import ConfigFileError


def write(tmp_path, text: str, name: str = "helpline.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def accounts(tmp_path, text: str, **env: str):
    return imap_settings({"HELPLINE_CONFIG_FILE": write(tmp_path, text), **env})


def test_tables_with_folders_secret_files_and_options(tmp_path):
    (tmp_path / "pw").write_text("s3cret,with%odd chars\n")
    found = accounts(
        tmp_path,
        f"""
[[imap.accounts]]
url = "imaps://support%40example.com@imap.example.com"
password_file = "{tmp_path / "pw"}"
folders = ["INBOX", "Sales/EU"]
after = "move:Archive/Helpline"
cafile = "/etc/ssl/provider.pem"
quarantine = "Junk-Helpline"

[[imap.accounts]]
url = "imap://127.0.0.1:1143/Support"
user = "oauth@example.com"
oauth2_cmd = "/usr/local/bin/get-token --account support"
oauth2_refresh_minutes = 20
verify = false
after = "delete"
""",
        HELPLINE_IMAP_IDLE_MINUTES="4",
    )
    assert [a.key for a in found] == [
        "support@example.com@imap.example.com:993/INBOX",
        "support@example.com@imap.example.com:993/Sales/EU",
        "oauth@example.com@127.0.0.1:1143/Support",
    ]
    inbox, sales, oauth = found
    assert inbox.password == sales.password == "s3cret,with%odd chars" and inbox.tls == "implicit"
    assert (inbox.after, inbox.move_to, inbox.cafile, inbox.quarantine_folder) == (
        "move",
        "Archive/Helpline",
        "/etc/ssl/provider.pem",
        "Junk-Helpline",
    )
    assert inbox.idle_minutes == 4.0  # the environment's knobs apply to the file's mailboxes
    assert (oauth.tls, oauth.verify, oauth.after, oauth.password) == ("starttls", False, "delete", "")
    assert oauth.oauth2_cmd == "/usr/local/bin/get-token --account support" and oauth.oauth2_refresh_minutes == 20
    assert "s3cret" not in repr(found) and "get-token" not in repr(found)


def test_the_environment_wins_on_the_same_mailbox(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    found = accounts(
        tmp_path,
        """
[[imap.accounts]]
url = "imaps://bob@h/INBOX"
password = "from-the-file"
[[imap.accounts]]
url = "imaps://bob@h/Other"
password = "from-the-file"
""",
        HELPLINE_IMAP_ACCOUNTS="imaps://bob:from-env@h:993/INBOX",
    )
    assert [(a.folder, a.password) for a in found] == [("INBOX", "from-env"), ("Other", "from-the-file")]
    assert "event=imap_account_overridden account=bob@h/INBOX" in caplog.text and "from-" not in caplog.text


def test_without_accounts_there_is_nothing_to_poll(tmp_path):
    assert accounts(tmp_path, '[[teams]]\nname = "billing"\n') == []
    assert imap_settings({}) == []


@pytest.mark.parametrize(
    "body, where, problem",
    [
        (
            'url = "imaps://bob@h/INBOX"\npassword = "x"\nfolder = "Sales"',
            "key 'folder'",
            "names folder 'INBOX' already",
        ),
        ('url = "imaps://bob@h"\npassword = "x"\nafter = "archive"', "key 'after'", 'use "seen", "move:FOLDER"'),
        ('url = "imaps://bob@h"\npassword = "x"\nverify = "no"', "key 'verify'", "must be true or false"),
        ('url = "imaps://bob@h"\npasword = "x"', "key 'pasword'", "unknown key; allowed:"),
        ('url = "imaps://bob@h"', "key 'password_file'", "no password"),
        ('url = "imaps://bob@h"\npassword_file = "/nonexistent/pw"', "key 'password_file'", "cannot be read"),
        ('url = "imaps://bob:inline@h"\npassword = "x"', "key 'password'", "has a password already"),
        ('url = "imaps://bob@h?after=delete"\npassword = "x"', "key 'url'", "give options as keys"),
        (
            'url = "imaps://bob@h"\npassword = "x"\noauth2_refresh_minutes = 0',
            "key 'oauth2_refresh_minutes'",
            "above 0",
        ),
        ('password = "x"', "key 'url'", "is required"),
    ],
)
def test_mistakes_name_the_file_the_table_and_the_key(tmp_path, body, where, problem):
    text = '[[imap.accounts]]\nurl = "imaps://ok@h"\npassword = "fine"\n\n[[imap.accounts]]\n' + body + "\n"
    with pytest.raises(ConfigFileError) as err:
        accounts(tmp_path, text)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'helpline.toml'}: [imap.accounts[1]] {where}: "), message
    assert problem in message and "inline" not in message


def test_url_problems_and_duplicates(tmp_path):
    with pytest.raises(ConfigError) as err:
        accounts(tmp_path, '[[imap.accounts]]\nurl = "pop3://bob@h"\npassword = "p4ss"\n')
    assert str(err.value).startswith(f"{tmp_path / 'helpline.toml'}: [imap.accounts[0]]: 'pop3://bob:****@h/")
    assert "use imaps://" in str(err.value) and "p4ss" not in str(err.value)
    with pytest.raises(ConfigFileError) as err:
        accounts(
            tmp_path,
            '[[imap.accounts]]\nurl = "imaps://bob@h"\npassword = "x"\nfolders = ["A", "B"]\n'
            '[[imap.accounts]]\nurl = "imaps://bob@h:993/B"\npassword = "y"\n',
        )
    assert "[imap.accounts[1]] key 'folder': mailbox bob@h/B is already listed in imap.accounts[0]" in str(err.value)
    with pytest.raises(ConfigFileError) as err:
        accounts(tmp_path, '[imap]\naccounts = "imaps://bob@h"\n')
    assert "[imap] key 'accounts': must be an array of tables" in str(err.value)


def test_the_rest_of_the_file_accepts_the_sections(tmp_path):
    """Workers parse the file for teams and rules: the channel sections must not make it invalid."""
    cfg = config_file.load_path(
        write(
            tmp_path,
            '[[teams]]\nname = "billing"\n\n[[imap.accounts]]\n'
            'url = "imaps://bob@h"\npassword_file = "/only/on/the/ingest/host"\n',
        )
    )
    assert [t.name for t in cfg.teams] == ["billing"]
