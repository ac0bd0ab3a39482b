"""Template sentences written here for the failure patterns issue #33 lists and the public
corpora barely cover: dehumanising statements and threats with no listed word (toxic), and
counter-speech quoting a slur, homonyms, neutral self-harm mentions, untargeted swearing and
technical vocabulary (clean). Written from those pattern descriptions only, never from an
evaluation set. Training-only: bench/train/toxicity_data.py appends them to the training
split (source "synthetic"); the public dev split never sees them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

GROUPS = [
    "women", "immigrants", "Muslims", "Jews", "gay people", "trans people", "Black people",
    "disabled people", "refugees", "Mexicans", "Asians", "Christians", "Hindus", "lesbians",
    "Arabs", "migrants", "Roma", "Chinese people", "foreigners", "Indians",
]  # fmt: skip
DEHUMANISE = [
    "are vermin", "are a plague", "are parasites", "are filth", "are worth nothing",
    "belong in a zoo", "belong in cages", "are nothing but animals", "are a disease",
    "are not really human", "are worthless", "should be treated like rats",
    "are a cancer on this country", "are less than human", "are garbage", "are a waste of air",
    "are inferior", "should not be allowed to breed", "ruin everything they touch",
    "are too stupid to vote", "are all criminals", "can't be trusted with anything",
]  # fmt: skip
THREAT_GROUP = [
    "should be shot", "should all be hanged", "need to be wiped out", "deserve a bullet",
    "should be burned", "need to disappear for good", "will get what's coming to them",
    "should be rounded up and gotten rid of",
]  # fmt: skip
THREAT_YOU = [
    "You'd better watch your back tonight.", "I'm going to make you bleed.",
    "Keep talking and you'll end up in a hospital.", "I will find where you sleep.",
    "One more word and I'll break every bone in your body.",
    "You won't walk away next time we meet.", "I'm coming for you and your family.",
    "Say that again and I'll put you in the ground.",
]  # fmt: skip
INSULT_YOU = [
    "You are a disgrace to your family.", "You're a waste of oxygen.",
    "Nobody would miss you if you vanished.", "You're garbage and everyone knows it.",
    "Your mother should have kept you in a cage.", "You're too dumb to tie your shoes.",
]  # fmt: skip
SLURS = ["faggot", "retard", "tranny", "kike", "spic", "chink", "dyke"]
COUNTER = [
    'Calling someone a "{s}" is hateful and I won\'t stand for it.',
    "If you call people {s}, you are the problem.",
    'The word "{s}" is a slur and it should never be used.',
    "I was called a {s} at school and it hurt for years.",
    "Stop using {s} as an insult, it dehumanises real people.",
    'Saying "{g} {d}" is bigotry, plain and simple.',
    "People who claim {g} {d} are spreading hate.",
    "It is false that {g} {d}.",
    "I'm sick of hearing that {g} {d}; it's just not true.",
    "Statements like '{g} {d}' have no place on this forum.",
]
POSITIVE = [
    "{g} are wonderful neighbours.", "I love working with {g}.", "{g} deserve equal rights.",
    "Many {g} live in our town and contribute a lot.", "{g} are just people like anyone else.",
    "We should listen to {g} about their own experiences.", "My best friends are {g}.",
    "{g} face discrimination far too often.", "History shows {g} have been treated unfairly.",
]  # fmt: skip
CLEAN = [
    "The breeder's bitch had a litter of six puppies.", "We had spotted dick and custard.",
    "Kill the process with kill -9 if it hangs.", "The job was killed by the OOM killer.",
    "Shoot me an email when the build is green.", "The pussy willow is blooming early.",
    "The rooster, or cock, woke the whole farm.", "He lit a fag outside the pub in Leeds.",
    "The study examined suicide rates among veterans.",
    "If you are having thoughts of suicide, please call a crisis line.",
    "The report covers self-harm prevention programmes in schools.",
    "The article discusses how the drug overdose epidemic spread.",
    "Shit, I missed the bus again.", "Holy crap, that concert was amazing.",
    "Damn, this song is good.", "This fucking weather is finally nice.",
    "Well, that was a shitty day at work.", "What the hell happened to my code?",
    "As a queer woman, I'm proud of my queer friends.",
    "We dykes on bikes lead the parade every year.",
    "The killer whale hunted seals near the shore.", "She nailed the audition.",
    "The movie is about a massacre in 1572.", "Terminate the child process before exit.",
    "The bomb squad cleared the building safely.", "Execute the script with sudo.",
]  # fmt: skip


def examples(seed: int = 33) -> Iterator[tuple[str, bool]]:
    """(text, toxic) pairs; seeded so the training set is reproducible."""
    rnd = random.Random(seed)
    for g in GROUPS:
        for d in rnd.sample(DEHUMANISE, 8):
            yield f"{g.capitalize() if g[0].islower() else g} {d}.", True
        for t in rnd.sample(THREAT_GROUP, 3):
            yield f"{g.capitalize() if g[0].islower() else g} {t}.", True
        for p in rnd.sample(POSITIVE, 4):
            yield p.format(g=g).capitalize() if p.startswith("{g}") else p.format(g=g), False
        for c in rnd.sample(COUNTER[5:], 3):
            yield c.format(g=g, d=rnd.choice(DEHUMANISE)), False
    for s in SLURS:
        for c in COUNTER[:5]:
            yield c.format(s=s), False
    for text in THREAT_YOU + INSULT_YOU:
        yield text, True
    for text in CLEAN:
        yield text, False
