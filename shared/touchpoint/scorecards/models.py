"""The scorecard JSON as Pydantic models: what ``GET /v1/scorecards/{period}`` answers and the
scheduled function archives. Values are unrounded floats and ``null`` when n = 0; every metric object
also says whether its sample is below the configured minimum and how it stands against its target."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from touchpoint.periods import is_period

Status = Literal["green", "amber", "red"]


class _Open(BaseModel):
    # More keys are welcome in the scorecard; a reader relies on the ones declared here.
    model_config = ConfigDict(extra="allow")


class Judged(_Open):
    low_sample: bool = Field(description="n below the configured minimum sample")
    status: Status | None = Field(description="Against the metric's target; null without a value or a target")


class Nps(Judged):
    value: float | None = Field(description="100·(promoters − detractors)/n, −100 to 100")
    n: int
    promoters: int = Field(description="Scores 9–10")
    passives: int = Field(description="Scores 7–8")
    detractors: int = Field(description="Scores 0–6")
    moe95: float | None = Field(description="95 % margin of error, in NPS points")


class Csat(Judged):
    value: float | None = Field(description="100·(scores 4 and 5)/n")
    n: int


class Ces(Judged):
    value: float | None = Field(description="Mean score, 1–7 (higher is easier)")
    n: int
    agree_pct: float | None = Field(description="100·(scores ≥ 5)/n")


class Rate(Judged):
    value: float | None
    n: int


class Duration(Judged):
    median: float | None = Field(description="Seconds; nearest rank from a histogram with ≤ 1 % relative error")
    p90: float | None
    n: int
    mean: float | None = Field(description="Exact mean, seconds")


class Retention(Judged):
    value: float | None = Field(description="100·retained/base")
    base: int = Field(description="Customers active in the previous period")
    retained: int = Field(description="Of those, active again in this period")
    returning_share: float | None = Field(description="100·(active now and in any earlier period)/active")


class ResponseRate(_Open):
    value: float | None = Field(description="100·answered/minted over links minted in the period; null when none")
    answered: int = Field(description="Of the links minted in the period, those answered (imports are not links)")
    minted: int = Field(description="Survey links minted in the period (a retried identical mint counts once)")
    held_back: int = Field(description="Mints the contact policy held back: no link was sent, not in the rate")


class SupportCsat(Csat):
    response_rate: ResponseRate = Field(description="CSAT links at cs touchpoints")


class TouchpointScores(_Open):
    label: str
    family: Literal["cx", "cs"] | None
    nps: Nps | None = None
    csat: Csat | None = None
    ces: Ces | None = None
    response_rate: ResponseRate


class Cx(_Open):
    nps: Nps
    csat: Csat
    ces: Ces
    response_rate: ResponseRate = Field(description="Every touchpoint, CX and CS")
    touchpoints: dict[str, TouchpointScores]
    suspected_bots: int = Field(description="Answers kept but left out of every metric")


class ChannelScores(_Open):
    fcr: Rate
    aht_seconds: Rate
    frt_seconds: Duration
    resolution_seconds: Duration
    reopen_rate: Rate


class Cs(ChannelScores):
    support_csat: SupportCsat
    retention: Retention
    channels: dict[str, ChannelScores]


class ServiceToExperience(_Open):
    nps_after_fcr: Nps = Field(description="NPS of answers whose latest ticket (solved ≤ 30 days before) was FCR")
    nps_after_non_fcr: Nps
    nps_difference: float | None


class Period(_Open):
    id: str = Field(description="ISO week (2026-W47) or month (2026-11) of the reporting time zone")
    start: str = Field(description="First local day, ISO date")
    end: str = Field(description="Last local day, ISO date")
    timezone: str = Field(description="The reporting time zone, an IANA name (ReportingTimezone)")
    start_at: str = Field(description="First instant: local midnight of the first day, ISO 8601 with its offset")
    end_at: str = Field(description="End (exclusive): local midnight after the last day, ISO 8601 with its offset")


class Previous(_Open):
    period: Period
    cx: Cx | None
    cs: Cs | None


class TrendCx(_Open):
    nps: Nps
    csat: Csat
    ces: Ces


class TrendCs(_Open):
    fcr: Rate
    frt_seconds: Duration
    reopen_rate: Rate


class TrendEntry(_Open):
    period: str = Field(description="Period id; the trend's last entry is the reported period")
    cx: TrendCx
    cs: TrendCs


class DetractorComment(_Open):
    touchpoint: str | None
    label: str | None
    metric: str | None
    score: int | None
    comment: str | None
    submitted_at: str | None


class Scorecard(_Open):
    period: Period
    cx: Cx
    cs: Cs
    service_to_experience: ServiceToExperience
    previous: Previous
    detractor_comments: list[DetractorComment] = Field(description="The period's worst-scored comments")
    trend: list[TrendEntry] = Field(description="Headline metrics of the last 8 periods, oldest first, ending with "
                                              "this one (values null where n = 0)")
    min_sample: int
    targets: dict[str, dict[str, float | bool] | None]


class ScheduleInput(BaseModel):
    """The EventBridge Scheduler input: ``{"granularity": "week"}`` on the schedule, or an explicit
    ``{"period": "2026-W47"}`` for a re-run."""

    model_config = ConfigDict(extra="ignore")

    granularity: Literal["week", "month"] | None = None
    period: str | None = None

    @field_validator("period")
    @classmethod
    def _a_period(cls, value: str | None) -> str | None:
        if value is not None and not is_period(value):
            raise ValueError(f"not a period: {value!r}")
        return value

