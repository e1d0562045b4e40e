"""Words that mean the same to someone asking for help, so that an answer is found in
the documents' words when the question uses others ("money back" for a refund, "crash"
for an accident, "paid" for pay).

Two small, hand-kept resources, both plain English and about no one knowledge base:
- ``IRREGULAR``: the forms of common irregular verbs, which stemming leaves apart.
- ``SYNONYMS``: groups of words and phrases that a service's customers and its help
  pages use for one another.

Every word of a group is reduced to the group's first word (stemmed), so a comparison of
stemmed terms treats them as one:

>>> from agents.bm25 import content_terms
>>> sorted(same_terms(content_terms(normalise("I want my money back"))))
['refund', 'want']
"""

from __future__ import annotations

import re
import threading
from functools import cache

IRREGULAR = (  # noqa: SIM905 (a word list reads best as text)
    "pay paid|send sent|keep kept|take took taken|buy bought|lose lost|forget forgot "
    "forgotten|begin began begun|bring brought|choose chose chosen|give gave given|"
    "know knew known|meet met|run ran|say said|see saw seen|sell sold|show shown|"
    "speak spoke spoken|steal stole stolen|tell told|think thought|win won|write wrote written|"
    "break broke broken|drive drove driven|ride rode ridden|hold held|lead led|feel felt|"
    "fall fell fallen|grow grew grown|hide hid hidden|build built|spend spent|lend lent|"
    "hear heard|wear wore worn|freeze froze frozen|sing sang sung|"
    "sit sat|sleep slept|stand stood|teach taught|throw threw thrown|catch caught|"
    "fight fought|fly flew flown|draw drew drawn|eat ate eaten|become became|come came|"
    "seek sought|shake shook shaken|swim swam swum|wake woke woken|"
    "forbid forbade forbidden|undergo underwent undergone|"
    "withdraw withdrew withdrawn|arise arose arisen"
).split("|")

SYNONYMS = (
    "wifi|wi-fi|wi fi|wireless|wlan|wireless network|network",
    "refund|refunds|refunded|reimburse|reimbursement|money back|repay|repayment|credit|"
    "credited|compensation|compensate|paid back|pay back|pays back",
    "cancel|cancellation|terminate|termination|quit",
    "price|cost|fee|charge|penalty|fined|fines",
    "delete|remove|erase|removal|deletion",
    "sign in|signin|sign on|log in|login|log on|logon",
    "sign up|signup|register|registration|enrol|enroll|enrolment",
    "password|passcode|passphrase",
    "phone|mobile phone|cellphone|cell phone|smartphone|mobile",
    "email|e-mail|mail",
    "bill|invoice|billing",
    "pay|payment|paid",
    "start|begin|beginning",
    "end|finish|stop",
    "accident|crash|collision|fell off|fall off|fallen off",
    "damage|damaged|broken|faulty|defective|smashed|cracked|shattered|wrecked",
    "help|support|helpdesk|help desk",
    "discount|reduction|rebate|concession|reduced price|% off|percent off|cheaper|less expensive",
    "minimum|at least|no less than",
    "maximum|at most|up to|no more than",
    "age|old|aged",
    "buy|purchase",
    "deliver|delivery|shipping|dispatch",
    "tv|television",
    "internet|broadband",
    "router|modem",
    "outage|disruption|interruption|downtime|power cut|power failure|blackout|dead",
    "move|relocate|relocation|moving house",
    "rent|hire|rental",
    "bike|bicycle|e-bike",
    "photo|picture|photograph|image",
    "problem|fault|trouble|error",
    "fix|repair|resolve",
    "parcel|package",
    "username|user name|login name",
    "screen|display",
    "app|application",
    "label|sticker",
    "hurt|injured|injury",
    "credit card|creditcard",
    "child|children|kid|kids|son|sons|daughter|daughters|minor|minors",
    "parent|parents|father|mother|dad|mum|mom",
    "student|students|uni|university|college",
    "closed|shut|not open",
    "renew|renewal|extend|extension",
    "forget|can't remember|cannot remember|can not remember|don't remember|do not remember",
    "miss|missed|no-show|not turn up|don't turn up|didn't turn up|not show up|don't show up|"
    "didn't show up",
    "advance|ahead|beforehand",
    "manage|look after|take care of",
    "return|drop off|hand back|give back|bring back",
    "trip|journey|travel",
    # Headed by "notify", not "tell": "tell" alone asks ("tell me how"), "let you know" does not.
    "notify|tell|let know|let us know|let you know|inform|notification",
    "arrive|arrival|turn up|show up|get there",
    "debit card|debitcard",
    "book|booking|booked|reserve|reservation|reserved",
    "meeting|conference",
    "reception|front desk|receptionist",
    "fail|failed|failure|decline|declined|bounce|bounced",
    "ill|illness|sick|sickness|unwell",
    "contract|deal|agreement",
    "reschedule|postpone|push back|put off",
    "certificate|certified|certification|certify",
    "guest|visitor|friend|mate|mates|buddy|pal",
    "colour|color",
    "offline|no wifi|without wifi|without internet|without a connection|"
    "without an internet connection",
    "online|website|web site|on the web",
    "ferry|boat|ship|vessel|on board|onboard",
    "night|overnight|out of hours|after hours",
    "practice|surgery|doctor's office|doctors office",
    "allow|allowed|permitted|permit",
    "courier|driver|delivery driver|delivery person",
    "home|house|property|flat|apartment",
    "police|cops|cop",
    "steal|theft|thief|nicked|pinched|robbed|robbery",
    "freeze|pause|paused|suspend|suspended|put on hold",
    "abroad|overseas|holiday|vacation|roaming",
    "complain|complaint|report",
    "person|people|colleague|colleagues|coworker|coworkers|co-worker|co-workers|teammate|teammates",
    # What customers write for the units of time.
    "minute|min|mins",
    "hour|hr|hrs",
    "week|wk|wks",
    "year|yr|yrs",
)
# Phrases that hold a word of another group ("credit card" is no refund) come first.
_PROTECTED = ("credit card", "debit card")
# Phrasal verbs of the groups whose object customers often put between the verb and its
# particle: "drop my books off" is "drop off", "push the installation back" "push back".
# Not "turn up" or "show up" (to arrive): "turn the heating up" is something else.
SPLIT = (  # noqa: SIM905 (a word list reads best as text)
    "drop off|hand back|give back|bring back|pay back|paid back|pays back|push back|put off|"
    "sign up|sign in|sign on|log in|log on"
).split("|")
_SPLIT_WORDS = 3  # at most this many words between the verb and its particle


@cache
def _split() -> re.Pattern[str]:
    """Two-word phrases of a verb and its particle, with up to ``_SPLIT_WORDS`` words
    between them ("drop my books off")."""
    pairs = [phrase.split() for phrase in SPLIT]
    verbs = "|".join(sorted({re.escape(verb) for verb, _ in pairs}, key=len, reverse=True))
    particles = "|".join(sorted({particle for _, particle in pairs}))
    return re.compile(
        rf"\b(?P<verb>{verbs})\s+(?P<between>(?:[\w'-]+\s+){{1,{_SPLIT_WORDS}}}?)"
        rf"(?P<particle>{particles})\b",
        re.I,
    )


_building = threading.Lock()


def load() -> None:
    """Build the tables now (~0.4 s), not in the first step that compares texts."""
    _tables()


def _tables() -> tuple[re.Pattern[str], dict[str, str], dict[str, str]]:
    """``_built_tables``, built once: a worker's threads (256 by default) that all start
    with a search would otherwise each build their own at once, and contend for the
    tokenizer's locks for a minute."""
    with _building:
        return _built_tables()


@cache
def _built_tables() -> tuple[re.Pattern[str], dict[str, str], dict[str, str]]:
    """The phrase pattern, phrase -> its group's word, and stemmed term -> group's term."""
    from agents.bm25 import content_terms  # bm25s and numpy: ~0.3 s, only when compared

    phrases: dict[str, str] = {}
    canonical: dict[str, str] = {}
    for forms in [*IRREGULAR, *SYNONYMS]:
        words = forms.split("|") if "|" in forms else forms.split()
        head = words[0].replace(" ", "").replace("-", "")
        heads = sorted(content_terms(head)) or [head]
        for word in words:
            if " " in word or "-" in word:
                phrases[word] = head
            for term in content_terms(word.replace(" ", "").replace("-", "")):
                canonical.setdefault(term, heads[0])
        for term in heads:
            canonical[term] = heads[0]
    ordered = sorted(phrases, key=lambda p: (p not in _PROTECTED, -len(p)))
    pattern = re.compile(
        r"\b(?:" + "|".join(re.escape(p).replace(r"\ ", r"[\s-]+") for p in ordered) + r")\b",
        re.I,
    )
    return pattern, {p.lower(): h for p, h in phrases.items()}, canonical


def normalise(text: str) -> str:
    """``text`` with each known phrase written as its group's one word ("money back" ->
    "refund"), for finding terms in; never shown to anyone."""
    pattern, phrases, _ = _tables()

    def joined(match: re.Match[str]) -> str:
        head = phrases.get(f"{match['verb']} {match['particle']}".lower())
        return f" {head} {match['between']}" if head else match.group()

    text = _split().sub(joined, text)
    return pattern.sub(lambda m: f" {phrases.get(_spaced(m.group()), m.group())} ", text)


def same_terms(terms: set[str] | frozenset[str]) -> set[str]:
    """Stemmed ``terms``, each synonym or verb form as its group's term."""
    _, _, canonical = _tables()
    return {canonical.get(term, term) for term in terms}


def expansions(term: str) -> list[str]:
    """Every stemmed term of ``term``'s group but ``term`` itself, for widening a search."""
    _, _, canonical = _tables()
    group = canonical.get(term)
    if group is None:
        return []
    return sorted(t for t, g in canonical.items() if g == group and t != term)


def _spaced(phrase: str) -> str:
    return re.sub(r"[\s-]+", lambda m: "-" if m.group() == "-" else " ", phrase.lower())
