"""Training-only sentences written here, from scratch, for kinds of text the public corpora
barely cover.

Provenance: every frame below was written for defib from short category descriptions only
(dehumanisation, threats, obfuscated slurs, counter-speech, reclaimed in-group usage,
homonyms, neutral mentions of self-harm, mild untargeted profanity, neutral and warm
mentions of identity groups). No evaluation set was opened while writing them, and no sentence, template
or phrase is taken from HateCheck, ToxiGen, any other project's toxicity test fixtures or
documentation, or the example phrases quoted in issue #33. Those stay evaluation material.

bench/train/toxicity_data.py appends these to the training split only (source
"synthetic"); no dev or out-of-distribution split ever contains them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

# Plural group nouns the frames are filled with (the featuriser folds the ones it knows into
# one token; the others teach the frame itself).
GROUPS = [
    "women", "immigrants", "Muslims", "Jews", "gay men", "lesbians", "trans people",
    "Black people", "disabled people", "refugees", "Mexicans", "Asians", "Christians",
    "Hindus", "Sikhs", "Arabs", "migrants", "Roma", "Pakistanis", "Africans",
    "Latinos", "Catholics", "Somalis", "Poles", "asylum seekers", "bisexual people",
]  # fmt: skip

# Dehumanising or demeaning statements about a group, with no word from the lexicon.
DEHUMANISE = [
    "{G} act more like a swarm of insects than like neighbours.",
    "Whenever {g} move onto a street it turns into a pigsty within a year.",
    "I don't count {g} as people, they are livestock that learned to use phones.",
    "Our town got infested with {g} and the council just watched.",
    "{G} multiply like rabbits and drain everything around them dry.",
    "Spray the {g} out of the neighbourhood like the pests they are.",
    "{G} are a rot eating this nation from the inside.",
    "There is nothing human behind the eyes of {g}.",
    "Reasoning with {g} is like reasoning with a pack of stray dogs.",
    "{G} crawled out of the gutter and should be flushed back down it.",
    "Society would run fine if {g} were kept behind fences like cattle.",
    "{G} have the brains of cockroaches and the manners of hyenas.",
    "Letting {g} vote is like handing a monkey the keys to a plane.",
    "{G} are walking sacks of rubbish that someone forgot to collect.",
    "{G} spread through a city the way mould spreads through bread.",
    "Calling {g} human is an insult to the rest of us.",
    "{G} are a sickness and the cure is to get them out.",
    "I'd rather share a house with rats than with {g}.",
    "{G} only know how to steal, lie and take handouts.",
    "Never hire {g}, they wreck every team they join.",
    "{G} shouldn't be allowed anywhere near our children.",
    "This country was decent until {g} showed up and wrecked it.",
    "{G} are a dead weight the rest of us are forced to drag along.",
    "Every problem in this city traces back to the {g} who moved in.",
    "{G} are too dim to be trusted with a vote or a job.",
    "{G} should be grateful we even let them breathe our air.",
    "The {g} here are a stain nobody can scrub off.",
]

# Threats against a group, phrased without a stock threat phrase.
THREAT_GROUP = [
    "Someone should torch every house the {g} live in.",
    "The day is coming when we drag the {g} into the street and settle this.",
    "Line the {g} up against a wall and be done with it.",
    "Any of those {g} who shows up at our rally leaves in an ambulance.",
    "We'll see how brave the {g} are once their homes are burning.",
    "Round the {g} up, put them on boats and sink the boats.",
    "There's a rope in my truck for the next of those {g} who walks past.",
    "The {g} in this town had better start running before we start hunting.",
    "A few well-placed bombs would clear the {g} out of that district.",
    "When the lights go out, the {g} on our street are first.",
]

# Threats at the reader, again without a stock phrase.
THREAT_YOU = [
    "I know which car is yours and where you park it at night.",
    "Post that again and your teeth will be on the pavement.",
    "Enjoy your last weekend, I'm driving over on Monday.",
    "Your kids walk to school on their own, don't they?",
    "I'll make sure you never type another word with those fingers.",
    "Next time I see you I'm bringing a bat.",
    "Keep it up and the police will be fishing you out of the river.",
    "I have your address and a lot of free time.",
    "You won't be so chatty with a broken jaw.",
    "Watch the shadows on your way home tonight, I'll be in one of them.",
    "I'm going to ruin your face so badly your mother won't know you.",
    "Say my name once more and I'll burn your place down with you in it.",
]

# Slurs the lexicon lists, to be written out with a spelling trick and an attacking carrier.
SLURS = ["faggot", "retard", "tranny", "kike", "spic", "chink", "nigger", "wetback", "dyke"]
SLUR_CARRIERS = [
    "Nobody asked for your opinion, {s}.",
    "Look at this {s} trying to act smart.",
    "Crawl back under your rock, {s}.",
    "Typical {s}, always whining about something.",
    "Get out of my country, you filthy {s}.",
    "Another {s} moved in next door, great.",
    "Go cry about it, {s}.",
    "Only a {s} would write something this dumb.",
]

# Counter-speech: quoting or describing abuse in order to object to it or to report it.
COUNTER_SLUR = [
    'A man on the bus called my brother a "{s}" and nobody said a word. That has to change.',
    "Using {s} about anyone is cruel; please take it out of your vocabulary.",
    "Kids at school shouted {s} at my son, so we met the head teacher today.",
    'The word "{s}" has a long history of violence behind it.',
    "I reported the account that kept calling people {s} in the replies.",
    'If your joke needs the word "{s}", it is not a joke, it is contempt.',
]
COUNTER_GROUP = [
    'Someone in the comments wrote "{q}" and I am still angry about it.',
    'Posts saying "{q}" are racist garbage and the moderators should remove them.',
    'My uncle said "{q}" at dinner, so I told him exactly why he is wrong.',
    'Claims like "{q}" are how persecution starts; history shows it.',
    'I flagged a reply that said "{q}". Hate like that does not belong here.',
    'No, "{q}" is not an opinion, it is bigotry.',
]

# In-group, reclaimed usage.
RECLAIMED = [
    "Our queer book club meets on Thursdays at the library.",
    "Proud dyke, proud mum, proud nurse.",
    "The Dykes on Bikes crew opened the parade again this year.",
    "We're a bunch of queers who love hiking, come along.",
    "As a queer kid in a small town, that show meant everything to me.",
    "Disability activists sometimes call themselves crips with real pride.",
    "Queer theory was the best seminar I took at university.",
    "Me and my fellow dykes are hosting a quiz night on Friday.",
    "The fat activism panel talked about taking the word back.",
    "We called the podcast Two Queers and a Microphone.",
]

# Words that are slurs or swear words elsewhere, in their other sense.
HOMONYMS = [
    "Our bitch had seven puppies last night, mother and pups are doing well.",
    "The breeder only mates a bitch once a year to keep her healthy.",
    "Grandma made faggots with onion gravy for Sunday lunch.",
    "He tied a faggot of dry sticks to start the bonfire.",
    "Spotted dick with hot custard is a classic school pudding.",
    "He stepped outside for a fag and came back smelling of smoke.",
    "The cock crowed at five and woke the whole campsite.",
    "The stopcock under the sink was stuck, so I called a plumber.",
    "Pussy willow branches look lovely in a tall vase.",
    "Our old pussycat sleeps on the radiator all winter.",
    "A blue tit and a great tit were at the feeder this morning.",
    "The blue-footed booby is found on the Galapagos Islands.",
    "The farmer still uses an ass to carry water up the hill.",
    "Moby Dick is a long book but worth it.",
    "My uncle Dick retired from the railway last spring.",
    "Add a flame retardant to the foam before it cures.",
    "Retard the ignition timing a few degrees if the engine knocks.",
    "The hooker won the ball back at the scrum.",
    "Screw the bracket into the wall before you hang the shelf.",
    "Turn the brass knob and the cabinet opens.",
    "Kill the stuck process and restart the worker.",
    "The garbage collector frees objects nobody references.",
    "Shoot me a message when the deploy finishes.",
    "Execute the migration script before you start the server.",
    "The bang operator forces the value to be non-null.",
    "The killer whale pod hunted along the coast.",
    "Nuts and bolts are in the second drawer.",
    "In 1890 a gay party meant a cheerful party.",
    "The child process is terminated when its parent exits.",
    "She absolutely killed it at the open-mic night.",
]

# Self-harm mentioned in news, research or help text.
SELF_HARM = [
    "The charity runs a free helpline for anyone thinking about suicide.",
    "Researchers tracked self-harm admissions among teenagers over ten years.",
    "If you are struggling, talking to your doctor about suicidal thoughts is a good first step.",
    "The documentary covers how the town responded after a cluster of suicides.",
    "Schools are adding lessons on recognising the signs of self-harm.",
    "The paper compares overdose deaths before and after the policy change.",
    "Crisis lines saw more calls about suicide during the winter months.",
    "The nurse explained how to care for self-inflicted cuts safely.",
    "The novel deals with grief after a suicide in the family.",
    "Suicide prevention training is now mandatory for all staff.",
    "Veterans' groups are campaigning for better mental health care and suicide prevention.",
    "She wrote an article about recovering from years of self-harm.",
]

# Swearing aimed at no one.
PROFANITY = [
    "Shit, I left my keys at the office again.",
    "Holy shit, what a goal in the last minute!",
    "Fuck yeah, we finally shipped the release.",
    "This damn printer jams every single morning.",
    "Well that was a crappy day, time for a beer.",
    "What the hell is wrong with this build?",
    "Bloody hell, the train is late again.",
    "Oh crap, I forgot the milk.",
    "That concert was fucking incredible.",
    "Damn, this soup is good.",
    "Ugh, the wifi is being a pain in the ass today.",
    "Goddammit, the cat knocked my coffee over.",
    "This shitty weather has lasted a week.",
    "Fuck, I burnt the toast.",
]

# Neutral or positive sentences naming a group.
NEUTRAL_GROUP = [
    "{G} run many of the small shops on our high street.",
    "The report looks at how {g} are represented on television.",
    "A survey of {g} found most want better public transport.",
    "Several {g} spoke at the town hall meeting about housing.",
    "{G} have lived in this region for centuries.",
    "The museum has a new exhibit on the history of {g} in Europe.",
    "Many {g} volunteered at the food bank during the floods.",
    "Discrimination against {g} at work is still common, the study says.",
    "Our team includes {g}, and it is stronger for it.",
    "{G} deserve the same protection under the law as anyone.",
]

# Warm sentences naming a group (affection and praise are not abuse either).
WARM_GROUP = [
    "I'm lucky to count {g} among my closest friends.",
    "The {g} I met on that trip were so kind and generous.",
    "Proud to stand with the {g} in our community.",
    "We adore our neighbours, who are {g}, and their kids.",
    "Huge respect to the {g} who organised the street party.",
    "Celebrating the {g} who make this city what it is.",
    "My favourite people at work are {g}, honestly.",
    "So much love for the {g} who welcomed us.",
]


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _fill(frame: str, group: str) -> str:
    return _cap(frame.replace("{G}", _cap(group)).replace("{g}", group))


def obfuscate(word: str, rnd: random.Random) -> str:
    """One spelling trick of the kind people use to dodge word filters."""
    trick = rnd.randrange(6)
    if trick == 0 and len(word) > 3:  # swap two inner letters
        i = rnd.randrange(1, len(word) - 2)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if trick == 1 and len(word) > 4:  # drop an inner letter
        i = rnd.randrange(1, len(word) - 1)
        return word[:i] + word[i + 1 :]
    if trick == 2:  # letters apart
        return rnd.choice([" ", ".", "-"]).join(word)
    if trick == 3:  # digits and symbols for letters
        table = str.maketrans({"a": "@", "e": "3", "i": "1", "o": "0", "s": "$", "t": "7"})
        return word.translate(table)
    if trick == 4:  # a stretched letter
        i = rnd.randrange(len(word))
        return word[:i] + word[i] * 3 + word[i:]
    return word[0] + "*" + word[2:] if len(word) > 3 else word.upper()


def examples(seed: int = 33) -> Iterator[tuple[str, bool]]:
    """(text, toxic) pairs; seeded so the training set is reproducible."""
    rnd = random.Random(seed)
    quotes: list[str] = []
    for g in GROUPS:
        for frame in rnd.sample(DEHUMANISE, 7):
            text = _fill(frame, g)
            quotes.append(text.rstrip("."))
            yield text, True
        for frame in rnd.sample(THREAT_GROUP, 3):
            yield _fill(frame, g), True
        for frame in rnd.sample(NEUTRAL_GROUP, 3):
            yield _fill(frame, g), False
        for frame in rnd.sample(WARM_GROUP, 2):
            yield _fill(frame, g), False
    for frame in THREAT_YOU:
        yield frame, True
    for s in SLURS:
        for carrier in rnd.sample(SLUR_CARRIERS, 4):
            yield carrier.format(s=obfuscate(s, rnd)), True
        for frame in rnd.sample(COUNTER_SLUR, 3):
            yield frame.format(s=s), False
    for q in rnd.sample(quotes, 60):
        yield rnd.choice(COUNTER_GROUP).format(q=q), False
    for text in RECLAIMED + HOMONYMS + SELF_HARM + PROFANITY:
        yield text, False
