"""The settings read from the environment and the settings resource the assets get agree:
one province-list parser, one layout of the data folder."""

from assets.settings import load_settings
from pipelines.resources import build_resources


def test_the_environment_and_the_resource_name_the_same_provinces_and_files(tmp_path):
    for text, codes in [(" h44, H60 ,", ("H44", "H60")), ("ALL", None), ("", None),
                        ("h01", ("H01",))]:
        settings = load_settings({"CHISO_DATA_DIR": str(tmp_path), "CHISO_PROVINCES": text})
        chiso = build_resources(settings)["chiso"]
        assert settings.provinces == chiso.province_codes == codes
        for place in ("raw_dir", "warehouse_path", "published_path", "logs_dir",
                      "safety_stop_path"):
            assert getattr(settings, place) == getattr(chiso, place)
