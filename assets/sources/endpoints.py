"""The portal's reporting endpoints, their request payloads and their replay paths.

One helper builds a request and one names its recording, so the live client, the
replay client, the local test server and the sample generator cannot disagree.
"""

import re
from dataclasses import dataclass
from datetime import date

from assets.months import last_day, month_key, parse_month

# The portal's public evaluation dashboard ("Đánh giá chất lượng phục vụ"), where the
# browser transport starts; relative to CHISO_PORTAL_URL. Taken from public client code,
# not from the samples: configurable (CHISO_PORTAL_BROWSER_PAGE).
DEFAULT_PAGE = "/danh-gia-chat-luong-phuc-vu"

API_PREFIX = "/api/v1/reporting/evaluation/"
DEFAULT_PAGE_SIZE = 200


@dataclass(frozen=True)
class Endpoint:
    name: str
    group_code: str | None  # None for the national summary
    shape: str  # "metrics" (overview + evaluation[]), "tree" (parent + children[]),
    # "national", "legacy" (the 2022-2025 JSP service: a JSON array of rows) or
    # "catalogue" (the procedure list: items[] + pagination, no month)
    date_range: bool = False  # addressed by fromDate/toDate instead of timeType
    http_path: str | None = None  # when not under API_PREFIX

    @property
    def path(self) -> str:
        return self.http_path or API_PREFIX + self.name

    @property
    def paginated(self) -> bool:
        # Tree endpoints return every child in one response whatever the page size;
        # the legacy service returns every row at once.
        return self.shape not in ("tree", "legacy")

    @property
    def form_encoded(self) -> bool:
        """The legacy service takes its JSON in a form field ``params``, not as the body."""
        return self.shape == "legacy"


NATIONAL = Endpoint("service-results", None, "national")
GROUP_ENDPOINTS: dict[str, Endpoint] = {
    e.group_code: e
    for e in (
        Endpoint("transparency", "CKMB", "metrics"),
        Endpoint("dvc-progress-tree", "TDGQ", "tree"),
        Endpoint("provide-online-tree", "CLGQ", "tree"),
        Endpoint("formality-online-payment-tree", "TTTT", "tree"),
        Endpoint("handling-satisfaction", "MDHL", "metrics", date_range=True),
        Endpoint("dossier-digitized", "MDSH", "metrics"),
    )
}
ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in (NATIONAL, *GROUP_ENDPOINTS.values())}

# Before 2025-07 (63 provinces) the portal's statistics came from one JSP service:
# POST /jsp/rest.jsp with form field params = {"type": "ref", "service":
# "report_tinh_766_service", "p_nam": 2024, "p_thang": 8, "p_tinh_id": 0, ...}.
# p_tinh_id 0 lists the provinces; a province's ID lists its units.
LEGACY_PATH = "/jsp/rest.jsp"
LEGACY = Endpoint("report_tinh_766_service", None, "legacy", http_path=LEGACY_PATH)

# The procedure catalogue (thủ tục hành chính, TTHC): every procedure with its id, code,
# name, state and departments, paged; no period.
FORMALITIES_PATH = "/api/v1/reporting/formalities"
FORMALITIES = Endpoint("formalities", None, "catalogue", http_path=FORMALITIES_PATH)
CATALOGUE_PAGE_SIZE = 100  # the real portal served pageSize 10 when asked; 100 is polite

# The group endpoints that answer per procedure (all but MDHL), and how each spells the
# filter: dossier-digitized takes ``formalityID``, the others ``formalityId`` (samples).
PROCEDURE_GROUPS = ("CKMB", "TDGQ", "CLGQ", "TTTT", "MDSH")
FORMALITY_FIELD = {"dossier-digitized": "formalityID"}
FORMALITY_FIELDS = ("formalityId", "formalityID")


def formality_field(endpoint: Endpoint) -> str:
    return FORMALITY_FIELD.get(endpoint.name, "formalityId")


def formality_of(payload: dict) -> str | None:
    """The procedure a request is filtered to, whichever spelling it uses; None if none."""
    for key in FORMALITY_FIELDS:
        if payload.get(key):
            return str(payload[key])
    return None


def catalogue_payload(page: int = 1, page_size: int = CATALOGUE_PAGE_SIZE) -> dict:
    return {"currentPage": page, "pageSize": page_size}


def legacy_payload(month: date, province_id: str | None = None) -> dict:
    """The ``params`` of the legacy service for one month: every province (``p_tinh_id``
    0) or one province's units."""
    return {"type": "ref", "service": LEGACY.name, "p_nam": month.year, "p_6thang": 0,
            "p_quy": 0, "p_thang": month.month, "p_tinh_id": int(province_id or 0),
            "p_loaidonvi": 1}


def month_payload(endpoint: Endpoint, month: date, *, province_id: str | None = None,
                  page: int = 1, page_size: int = DEFAULT_PAGE_SIZE,
                  formality_id: str | None = None) -> dict:
    """The JSON body the portal expects for one month of one endpoint; ``formality_id``
    filters a group endpoint to one procedure (spelled as that endpoint wants it). The
    catalogue has no month: its body is only the page."""
    if endpoint.shape == "legacy":
        return legacy_payload(month, province_id)
    if endpoint.shape == "catalogue":
        return catalogue_payload(page, page_size)
    if formality_id is not None and endpoint.group_code not in PROCEDURE_GROUPS:
        raise ValueError(f"{endpoint.name} does not answer per procedure")
    if endpoint.date_range:
        body: dict = {"fromDate": parse_month(month).isoformat(),
                      "toDate": last_day(month).isoformat()}
    else:
        body = {"timeType": "month", "year": month.year, "month": month.month}
    if endpoint is NATIONAL:
        body["departmentType"] = "ADMINISTRATIVE_UNIT"
    if province_id is not None:
        body["rootDepartmentId"] = province_id
    body["currentPage"] = page
    body["pageSize"] = page_size
    if formality_id is not None:
        body[formality_field(endpoint)] = formality_id
    return body


def payload_month(payload: dict) -> date:
    """The month a payload asks for (inverse of month_payload for monthly requests)."""
    if payload.get("service") == LEGACY.name:
        if payload.get("p_quy") or payload.get("p_6thang") or not payload.get("p_thang"):
            raise ValueError(f"not a monthly request: {payload}")
        return date(int(payload["p_nam"]), int(payload["p_thang"]), 1)
    if "fromDate" in payload:
        start = date.fromisoformat(payload["fromDate"])
        end = date.fromisoformat(payload["toDate"])
        if start.day != 1 or end != last_day(start):
            raise ValueError(f"not a whole month: {payload['fromDate']}..{payload['toDate']}")
        return start
    if payload.get("timeType") != "month":
        raise ValueError(f"not a monthly request: timeType={payload.get('timeType')!r}")
    return date(int(payload["year"]), int(payload["month"]), 1)


_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_segment(value: str) -> str:
    """A path segment from a portal value: never '..', never a separator or a NUL."""
    cleaned = _SAFE.sub("_", value).strip("._") or "_"
    return cleaned[:80]


def replay_relpath(endpoint: Endpoint, payload: dict) -> str:
    """Where a recorded response for this request lives inside a replay directory."""
    if endpoint.shape == "legacy":
        root = str(payload.get("p_tinh_id") or "national")
        return f"{endpoint.name}/{month_key(payload_month(payload))}/{safe_segment(root)}.json"
    page = int(payload.get("currentPage", 1))
    if endpoint.shape == "catalogue":
        return f"{endpoint.name}/page-{page}.json"
    root = payload.get("rootDepartmentId") or "national"
    month = month_key(payload_month(payload))
    formality = formality_of(payload)
    if formality is not None:  # one procedure's answer, beside the province's own
        return (f"{endpoint.name}/{month}/{safe_segment(root)}/formality-"
                f"{safe_segment(formality)}/page-{page}.json")
    return f"{endpoint.name}/{month}/{safe_segment(root)}/page-{page}.json"


def endpoint_for_path(path: str) -> Endpoint | None:
    if path == LEGACY_PATH:
        return LEGACY
    if path.rstrip("/") == FORMALITIES_PATH:
        return FORMALITIES
    if not path.startswith(API_PREFIX):
        return None
    return ENDPOINTS.get(path[len(API_PREFIX):].strip("/"))
