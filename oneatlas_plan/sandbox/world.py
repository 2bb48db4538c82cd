"""The sandbox world: API key, workspaces, contracts, product types, markets."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_API_KEY = "sandbox-key"
CATALOG_ID = "PublicMOC"


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    title: str


PUBLIC = Workspace("0e33eb50-3404-48ad-b835-b0b4b72a5625", "public", "Public")
PUBLIC_PNEO = Workspace(
    "3e88441b-adc9-4be6-bd80-59d4fb69d5a7", "public-pneo", "Workspace temporaire pour la data pneo"
)
LEGACY_DELIVERY = Workspace(
    "1a7aaef1-839e-4eaa-826c-aabee39eac85", "sandbox-legacy", "Sandbox legacy deliveries"
)
NEO_DELIVERY = Workspace(
    "5c0cbf3c-7b8c-4d0e-9a43-2f0b2f4b9e10", "sandbox-neo", "Sandbox neo deliveries"
)
# Another delivery workspace of the same customer, named by an order body's delivery.workspace.
TEAM_DELIVERY = Workspace(
    "9d2f4c61-3b7e-4a08-8c5e-6f1a2b3c4d5e", "sandbox-team", "Sandbox team deliveries"
)
PUBLIC_WORKSPACES = (PUBLIC, PUBLIC_PNEO)
PRIVATE_WORKSPACES = (LEGACY_DELIVERY, NEO_DELIVERY, TEAM_DELIVERY)


@dataclass(frozen=True)
class ProductType:
    id: str
    label: str
    sensor: str
    sensor_label: str
    constellation: str
    minimum_area_km2: float


PLEIADES_ARCHIVE = ProductType(
    "PleiadesArchiveMono", "Pleiades Archive Mono", "pleiades", "Pléiades", "PHR", 25.0
)
SPOT_ARCHIVE = ProductType(
    "SPOTArchive1.5Mono", "SPOT Archive 1.5m Mono", "spot", "SPOT", "SPOT", 25.0
)
PNEO_ARCHIVE = ProductType(
    "PleiadesNeoArchiveMono",
    "Pleiades Neo Archive Mono",
    "pleiadesneo",
    "Pléiades Neo",
    "PNEO",
    25.0,
)


@dataclass(frozen=True)
class Contract:
    id: str
    name: str
    customer_id: str
    backend: str  # "legacy" | "neo"
    product_types: tuple[ProductType, ...]
    delivery: Workspace
    me_contract_id: str


LEGACY_CONTRACT = Contract(
    "Test_E2E_BR_1392-1375",
    "Sandbox SPOT & Pléiades",
    "AC0000001",
    "legacy",
    (PLEIADES_ARCHIVE, SPOT_ARCHIVE),
    LEGACY_DELIVERY,
    "d9307572-4f50-4dd5-b5de-94085beb6709",
)
NEO_CONTRACT = Contract(
    "CTR21000411",
    "Sandbox Pléiades Neo",
    "AC0000001",
    "neo",
    (PNEO_ARCHIVE,),
    NEO_DELIVERY,
    "d2c1ef64-6fb7-4dfe-9c1e-3a97f1f56e8e",
)
CONTRACTS = {c.id: c for c in (LEGACY_CONTRACT, NEO_CONTRACT)}

MARKETS = (
    ("AGRI", "Agriculture"),
    ("GENIE", "Civil engineering"),
    ("GDPUBLIC", "Public administration"),
    ("DEFSEC", "Defence & security"),
    ("DISTRI", "Distribution"),
    ("RISQUE", "Risk management"),
    ("ENERGIE", "Energy"),
    ("ENV", "Environment"),
    ("FORET", "Forestry"),
    ("SANTE", "Health"),
    ("ASSUR", "Insurance"),
    ("IOT", "Internet of things"),
    ("CARTO", "Mapping"),
    ("MARITIME", "Maritime"),
    ("PRESSE", "Media"),
    ("MOBIL", "Mobility"),
    ("AUTRE", "Other"),
    ("TELECOM", "Telecommunications"),
    ("TOURISME", "Tourism"),
    ("TRANSPORT", "Transport"),
    ("NQUAL", "Not qualified"),
)
MARKET_IDS = frozenset(m for m, _ in MARKETS)


def workspace_by_key(key: str) -> Workspace | None:
    """Find a workspace by name or id."""
    for ws in PUBLIC_WORKSPACES + PRIVATE_WORKSPACES:
        if key in (ws.id, ws.name):
            return ws
    return None


def private_workspace(key: str) -> Workspace | None:
    """A delivery workspace of the customer, by name or id."""
    return next((ws for ws in PRIVATE_WORKSPACES if key in (ws.id, ws.name)), None)


def contract_for_workspace(workspace_id: str) -> Contract | None:
    for contract in CONTRACTS.values():
        if contract.delivery.id == workspace_id:
            return contract
    return None
