"""Configuration: the example init-config writes never drifts from the defaults; every error names key and file."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from sen2val_stac.cli import build_parser, main
from sen2val_stac.commands.init_config import example_config
from sen2val_stac.config import FREE_MAPPINGS, ConfigError, defaults, load_config

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "user-guide.md"


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Dotted key paths of a YAML document; list items' keys as ``key[].sub``; free mappings not entered."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, sub in value.items():
            dotted = f"{prefix}{key}"
            out.add(dotted)
            if dotted not in FREE_MAPPINGS:
                out |= key_paths(sub, dotted + ".")
    elif isinstance(value, list):
        for element in value:
            out |= key_paths(element, prefix.rstrip(".") + "[].")
    return out


def test_key_paths_sees_nested_and_list_keys() -> None:
    doc = {"a": 1, "b": {"c": None}, "contacts": [{"id": "x", "roles": []}], "doi": {"NDVI": "10.1/x"}}
    assert key_paths(doc) == {"a", "b", "b.c", "contacts", "contacts[].id", "contacts[].roles", "doi"}


def test_example_covers_every_default_key() -> None:
    """The example written by init-config has exactly the keys of the CURRENT defaults (at every depth)."""
    example, current = key_paths(yaml.safe_load(example_config())), key_paths(defaults())
    assert not current - example, f"keys missing from catalog_templates/sen2val.example.yaml: {sorted(current - example)}"
    assert not example - current, f"keys in the example but not in config-defaults.yaml: {sorted(example - current)}"


def test_example_loads_with_the_defaults_types(tmp_path) -> None:
    path = tmp_path / "sen2val.yaml"
    path.write_text(example_config(), encoding="utf-8")
    config = load_config(path)
    assert config["indices_dir"] == "/DATA/S2/PRODUCTS/INDICES"
    assert config["catalog_dir"] == str(tmp_path / "stac")  # relative to the file
    assert config["run"]["steps"] == ["index", "footprints", "netcdf", "geoflow", "metadata"]
    assert config["_path"] == str(path)


def test_init_config_writes_and_refuses_to_overwrite(tmp_path, capsys) -> None:
    path = tmp_path / "conf" / "sen2val.yaml"
    assert main(["init-config", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == example_config()
    path.write_text("workers: 2\n")
    assert main(["init-config", str(path)]) == 1
    assert "exists (use --force" in capsys.readouterr().err
    assert path.read_text() == "workers: 2\n"
    assert main(["init-config", str(path), "--force"]) == 0
    assert path.read_text(encoding="utf-8") == example_config()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize(("text", "key", "reason"), [
    ("catalogue_dir: x\n", "catalogue_dir", "unknown key"),
    ("footprint:\n  read_sise: 3\n", "footprint.read_sise", "unknown key"),
    ("geoflow:\n  actions:\n    ftp: true\n", "geoflow.actions.ftp", "unknown key"),
    ("workers: many\n", "workers", "must be int"),
    ("footprint:\n  simplify_m: fine\n", "footprint.simplify_m", "must be int"),
    ("footprint: 3\n", "footprint", "must be a mapping"),
    ("netcdf:\n  chunks: 5\n", "netcdf.chunks", "must be list"),
    ("netcdf:\n  catalogue: 'yes'\n", "netcdf.catalogue", "must be bool"),
    ("indices_dir: 12\n", "indices_dir", "must be str"),
])
def test_config_errors_name_key_and_file(tmp_path, text, key, reason) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and f"'{key}'" in message and reason in message


@pytest.mark.parametrize(("text", "reason"), [
    ("a: [\n", "not valid YAML"),
    ("- a\n- b\n", "the top level must be a mapping"),
])
def test_unreadable_config_names_the_file(tmp_path, text, reason) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {reason}")):
        load_config(path)


def test_missing_config_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'missing.yaml'}: cannot read")):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(("text", "expected"), [
    ("workers: many\n", "key 'workers'"),
    ("indices_dir: {d}/nowhere\ncatalog_dir: {d}/stac\n", "key 'indices_dir'"),
    ("catalog_dir: {d}/stac\n", "key 'indices_dir' is required"),
    ("indices_dir: {d}\ncatalog_dir: {d}/stac\nrun:\n  steps: [index, publish]\n", "key 'run.steps'"),
])
def test_run_reports_config_errors_with_key_and_file(tmp_path, capsys, text, expected) -> None:
    path = tmp_path / "sen2val.yaml"
    path.write_text(text.format(d=tmp_path))
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and expected in err
    assert not (tmp_path / "stac").exists()  # refused before taking the lock or writing anything


def test_run_rejects_unknown_steps_option(tmp_path, capsys) -> None:
    path = tmp_path / "sen2val.yaml"
    path.write_text(f"indices_dir: {tmp_path}\ncatalog_dir: {tmp_path}/stac\n")
    assert main(["run", "--config", str(path), "--steps", "index,nope"]) == 2
    assert "--steps: unknown step(s) 'nope'" in capsys.readouterr().err


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _guide_section(text: str, command: str) -> str:
    match = re.search(rf"^### `sen2val-stac {re.escape(command)}`\n(.*?)(?=^### |^## |\Z)", text, re.M | re.S)
    assert match, f"docs/user-guide.md has no section for `sen2val-stac {command}`"
    return match.group(1)


def test_user_guide_documents_every_command_and_option() -> None:
    """Regenerate with: python scripts/make_docs_figures.py --text-only."""
    text = GUIDE.read_text(encoding="utf-8")
    for name, parser in _subcommands().items():
        section = _guide_section(text, name)
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:  # hidden on purpose (kept for old cron lines)
                continue
            for option in action.option_strings:
                assert option in section, (f"docs/user-guide.md: `sen2val-stac {name}` lacks {option}; regenerate: "
                                           "python scripts/make_docs_figures.py --text-only")


def test_user_guide_config_reference_is_the_example() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(r"<!-- config-example:start -->\n```yaml\n(.*?)```\n<!-- config-example:end -->", text, re.S)
    assert match and match.group(1) == example_config(), "regenerate: python scripts/make_docs_figures.py --text-only"


# --- typed configuration: the models reject wrong values at load time, naming the file and the dotted key ---

@pytest.mark.parametrize(("text", "document", "message"), [
    ("checksum: md5\n", {"checksum": "md5"}, "key 'checksum' must be 'sha2-256' or 'none' (got 'md5')"),
    ("netcdf:\n  complevel: 12\n", {"netcdf": {"complevel": 12}},
     "key 'netcdf.complevel' must be between 0 and 9 (got 12)"),
    ("netcdf:\n  chunks: [8, 0]\n", {"netcdf": {"chunks": [8, 0]}},
     "key 'netcdf.chunks' must be three positive integers [T, Y, X] (got [8, 0])"),
    ("footprints:\n  format: tiff\n", {"footprints": {"format": "tiff"}},
     "key 'footprints.format' must be one of shp, gpkg, parquet (got 'tiff')"),
    ("catalogue_dir: x\n", {"catalogue_dir": "x"}, "unknown key 'catalogue_dir' (did you mean 'catalog_dir'?)"),
    ("netcdf:\n  format: gpkg\n", {"netcdf": {"format": "gpkg"}},
     "unknown key 'netcdf.format' (did you mean 'footprints.format'?)"),
    ("netcdf:\n  scheduler: thread\n", {"netcdf": {"scheduler": "thread"}}, "key 'netcdf.scheduler' must be threads"),
    ("workers: 0\n", {"workers": 0}, "key 'workers' must be at least 1 (got 0)"),
    ("doi:\n  NDVI: https://doi.org/10.5281/zenodo.1\n", {"doi": {"NDVI": "https://doi.org/10.5281/zenodo.1"}},
     "key 'doi.NDVI' must be a DOI"),
    ("contacts:\n  - id: a\n    emial: a@b.org\n", {"contacts": [{"id": "a", "emial": "a@b.org"}]},
     "unknown key 'contacts[0].emial' (did you mean 'contacts[0].email'?)"),
    ("contacts:\n  - email: a@b.org\n", {"contacts": [{"email": "a@b.org"}]}, "key 'contacts[0].id' is required"),
    ("run:\n  steps: [index, publish]\n", {"run": {"steps": ["index", "publish"]}},
     "key 'run.steps': item 'publish' must be one of index, "),
    ("md_link_template: 'https://x.org/{id}'\n", {}, "key 'md_link_template' may use only the placeholders"),
    ("geoflow:\n  publication_date: 15/01/2023\n", {}, "key 'geoflow.publication_date' must be a date YYYY-MM-DD"),
    ("cog:\n  indices: true\n  compression: lerc\n  max_z_error: 4\n", {},
     "key 'cog.max_z_error' must be 0 with compression lerc and indices true: lossy LERC moves the nodata value"),
    ("pgstac:\n  dsn: stac@localhost\n", {"pgstac": {"dsn": "stac@localhost"}},
     "key 'pgstac.dsn' must be a PostgreSQL connection string (postgresql://user@host:5432/db or host=... "
     "dbname=...) (got a value not shown)"),
])
def test_wrong_values_rejected_with_file_and_dotted_key(tmp_path, text, document, message) -> None:
    """Each wrong value is refused at load time by the models, and by the JSON Schema written from them."""
    path = tmp_path / "sen2val.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {message}")
    assert err.value.exit_code == 2
    if document:
        assert list(_schema_validator().iter_errors(document)), f"the JSON Schema accepts {document}"


def test_every_wrong_value_is_reported(tmp_path) -> None:
    path = tmp_path / "sen2val.yaml"
    path.write_text("netcdf:\n  complevel: 12\n  chunks: [8, 0]\nfootprints:\n  format: tiff\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    lines = str(err.value).splitlines()
    assert [line.split("'")[1] for line in lines] == ["footprints.format", "netcdf.chunks", "netcdf.complevel"]
    assert all(line.startswith(f"{path}: key ") for line in lines)


def test_checksum_md5_is_refused_not_hashed_as_sha256() -> None:
    """file_checksum writes sha2-256 only (multihash 0x12): md5 cannot be accepted."""
    from sen2val_stac.tree.rasters import SHA2_256_MULTIHASH_PREFIX

    assert SHA2_256_MULTIHASH_PREFIX == "1220"
    assert load_config(None)["checksum"] == "sha2-256"


def test_load_config_is_the_defaults_as_written() -> None:
    """The validated dict has the defaults' keys and values, types included (60 stays an int)."""
    config = load_config(None)
    assert config == defaults()
    assert isinstance(config["footprint"]["simplify_m"], int) and "_path" not in config


def test_every_default_key_has_a_model_field_and_back() -> None:
    """A key added to config-defaults.yaml needs a field in sen2val_stac/config/model.py (and a field, a default)."""
    import warnings

    from sen2val_stac.config.check import unmodelled

    assert unmodelled(defaults()) == [], "add a field for these keys to sen2val_stac/config/model.py"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_config(None)  # a field without a default would raise here, naming config-defaults.yaml


def test_defaults_file_errors_name_the_defaults_file() -> None:
    """Values that come from the defaults are blamed on the defaults file, the user's on the user's file."""
    from sen2val_stac.config.check import validate

    broken = defaults()
    del broken["netcdf"]["complevel"]
    broken["footprint"]["read_size"] = "big"
    with pytest.raises(ValueError) as err:
        validate({"workers": "two"}, broken, "user.yaml", "defaults.yaml", None)
    assert str(err.value).splitlines() == [
        "user.yaml: key 'workers' must be int (got 'two')",
        "defaults.yaml: key 'footprint.read_size' must be int (got 'big')",
        "defaults.yaml: key 'netcdf.complevel' has no default here",
    ]


def test_a_default_key_without_a_field_passes_through_with_a_warning() -> None:
    """While a new key waits for its field it is carried untyped (the test above fails meanwhile)."""
    from sen2val_stac.config.check import as_dict, validate

    extended = defaults()
    extended["pgstac_test"] = {"dsn": None}
    with pytest.warns(UserWarning, match="pgstac_test"):
        settings, loose = validate({"pgstac_test": {"dsn": "postgresql://x"}}, extended, "u.yaml", "d.yaml", None)
    assert as_dict(settings, loose)["pgstac_test"] == {"dsn": "postgresql://x"}


def test_load_settings_is_typed(tmp_path) -> None:
    import datetime

    from sen2val_stac.config import load_settings

    path = tmp_path / "conf" / "sen2val.yaml"
    path.parent.mkdir()
    path.write_text("catalog_dir: ../stac\nnetcdf:\n  complevel: 6\ngeoflow:\n  publication_date: '2023-01-15'\n"
                    "contacts:\n  - id: me\n    postal_code: 97400\n")
    settings = load_settings(path)
    assert settings.netcdf.complevel == 6 and settings.netcdf.chunks == [8, 256, 256]
    assert settings.catalog_dir == str(tmp_path / "stac")  # relative to the file's folder
    assert settings.geoflow.publication_date == datetime.date(2023, 1, 15)
    assert settings.contacts[0].postal_code == 97400 and settings.contacts[0].roles == []
    assert settings.source == str(path)
    config = load_config(path)
    assert config["contacts"] == [{"id": "me", "postal_code": 97400}]  # list elements as written
    assert config["_path"] == str(path) and config["netcdf"]["complevel"] == 6


def test_yaml_date_is_a_date_in_settings_and_json_in_the_dict(tmp_path) -> None:
    """An unquoted ``2024-01-01`` (a YAML date) is a date in the model, an ISO string in the dict the
    indexer hashes: its render signature (JSON) is computed, and equals the one of the quoted string."""
    import datetime
    import json

    from sen2val_stac.catalog.indexer import render_signature
    from sen2val_stac.config import load_settings

    bare, quoted = tmp_path / "bare.yaml", tmp_path / "quoted.yaml"
    bare.write_text("geoflow:\n  publication_date: 2024-01-01\n")
    quoted.write_text("geoflow:\n  publication_date: '2024-01-01'\n")
    assert isinstance(yaml.safe_load(bare.read_text())["geoflow"]["publication_date"], datetime.date)
    assert load_settings(bare).geoflow.publication_date == datetime.date(2024, 1, 1)
    config = load_config(bare)
    assert config["geoflow"]["publication_date"] == "2024-01-01"
    json.dumps({k: v for k, v in config.items() if not k.startswith("_")})
    assert render_signature(config, "INDICES") == render_signature(load_config(quoted), "INDICES")


def test_netcdf_scheduler_names_match_the_exporter() -> None:
    from sen2val_stac.config.model import SCHEDULER_NAMES
    from sen2val_stac.derive.netcdf.export import SCHEDULERS

    assert set(SCHEDULER_NAMES) == set(SCHEDULERS)


SCHEMA = Path(__file__).resolve().parents[1] / "catalog_templates" / "sen2val.schema.json"


def _schema_validator() -> Any:
    import json

    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_written_from_the_models() -> None:
    from sen2val_stac.config.schema import REGENERATE, schema_text

    assert SCHEMA.read_text(encoding="utf-8") == schema_text(), f"regenerate: {REGENERATE}"


def test_schema_accepts_the_defaults_and_the_example() -> None:
    validator = _schema_validator()
    for document in (defaults(), yaml.safe_load(example_config())):
        assert not [e.message for e in validator.iter_errors(document)]
    assert not list(validator.iter_errors({}))  # every key is optional in a user's file


def test_init_config_schema(tmp_path, capsys) -> None:
    from sen2val_stac.config.schema import schema_text

    path = tmp_path / "sen2val.schema.json"
    assert main(["init-config", "--schema", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == schema_text()
    assert main(["init-config", "--schema", str(path)]) == 1
    assert "exists (use --force" in capsys.readouterr().err
