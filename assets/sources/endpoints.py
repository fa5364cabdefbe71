"""The portal's reporting endpoints, their request payloads and their replay paths.

One helper builds a request and one names its recording, so the live client, the
replay client, the local test server and the sample generator cannot disagree.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import date

API_PREFIX = "/api/v1/reporting/evaluation/"
DEFAULT_PAGE_SIZE = 200


@dataclass(frozen=True)
class Endpoint:
    name: str
    group_code: str | None  # None for the national summary
    shape: str  # "metrics" (overview + evaluation[]), "tree" (parent + children[]), "national"
    date_range: bool = False  # addressed by fromDate/toDate instead of timeType

    @property
    def path(self) -> str:
        return API_PREFIX + self.name

    @property
    def paginated(self) -> bool:
        # Tree endpoints return every child in one response whatever the page size.
        return self.shape != "tree"


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


def month_key(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def month_payload(endpoint: Endpoint, month: date, *, province_id: str | None = None,
                  page: int = 1, page_size: int = DEFAULT_PAGE_SIZE) -> dict:
    """The JSON body the portal expects for one month of one endpoint."""
    if endpoint.date_range:
        last = calendar.monthrange(month.year, month.month)[1]
        key = month_key(month)
        body: dict = {"fromDate": f"{key}-01", "toDate": f"{key}-{last:02d}"}
    else:
        body = {"timeType": "month", "year": month.year, "month": month.month}
    if endpoint is NATIONAL:
        body["departmentType"] = "ADMINISTRATIVE_UNIT"
    if province_id is not None:
        body["rootDepartmentId"] = province_id
    body["currentPage"] = page
    body["pageSize"] = page_size
    return body


def payload_month(payload: dict) -> date:
    """The month a payload asks for (inverse of month_payload for monthly requests)."""
    if "fromDate" in payload:
        start = date.fromisoformat(payload["fromDate"])
        end = date.fromisoformat(payload["toDate"])
        last = calendar.monthrange(start.year, start.month)[1]
        if start.day != 1 or end != start.replace(day=last):
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
    root = payload.get("rootDepartmentId") or "national"
    page = int(payload.get("currentPage", 1))
    month = month_key(payload_month(payload))
    return f"{endpoint.name}/{month}/{safe_segment(root)}/page-{page}.json"


def endpoint_for_path(path: str) -> Endpoint | None:
    if not path.startswith(API_PREFIX):
        return None
    return ENDPOINTS.get(path[len(API_PREFIX):].strip("/"))
