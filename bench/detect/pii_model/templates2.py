"""Templates and word lists added for issue 30's second pass (error categories seen on the
dev file, written fresh, not copied from it): names as possessives and modifiers ("the
{L} novel"), speaker labels, surnames opening a sentence, bookings "under" a name; and the
negatives the tagger got wrong: places opening a sentence about the place ("Milan is famous
for fashion"), nationality words ("a German film"), organisations and brands that are also
names. Slots as in `synth`; new ones: {J} a nationality or language word, {Y} a brand that
is also a name or place (neither is labelled).

Word lists are split by alternation between training and the held-out set, so the held-out
score says whether the tagger generalises to words it never saw in that role.
"""

from __future__ import annotations

# Nationalities and languages (also names in some lists: German, Dane, English, Brazil...).
DEMONYMS = sorted(
    """American British English French German Italian Spanish Portuguese Dutch Swedish Danish
    Norwegian Finnish Polish Czech Russian Ukrainian Greek Turkish Chinese Japanese Korean
    Indian Brazilian Mexican Canadian Australian Irish Scottish Welsh Swiss Austrian Belgian
    Hungarian Romanian Egyptian Nigerian Kenyan Israeli Iranian Arabic African European Asian
    Latin Thai Vietnamese Filipino Argentine Chilean Colombian Peruvian Cuban Moroccan Persian
    Hebrew Icelandic Estonian Latvian Lithuanian Croatian Serbian Slovak Slovenian Bulgarian
    Albanian Georgian Armenian Mongolian Indonesian Malaysian Pakistani Bengali Nepalese
    Ethiopian Ghanaian Tunisian Lebanese Syrian Jordanian Saudi Emirati Catalan Basque
    Flemish Bavarian Sicilian Venetian Cantonese Tamil Punjabi Swahili Zulu Yoruba Hindi Urdu
    Mandarin Scandinavian Nordic Balkan Caribbean Texan Californian Parisian Roman Viennese
    Berliner Londoner Yorkshire Cornish Norman""".split()  # noqa: SIM905
)
# Brands and products that are names or places too (not PII: no one is meant).
BRANDS = sorted(
    """Tesla Ford Dell Jordan Mercedes Ferrari Porsche Disney Boeing Hilton Marriott Chanel
    Gucci Prada Armani Lincoln Chevrolet Cadillac Dodge Chrysler Peugeot Renault Citroen
    Lamborghini Maserati Bentley Rolls-Royce McLaren Siemens Philips Bosch Nestle Heineken
    Carlsberg Guinness Ikea Lego Zara Benetton Versace Dior Hermes Cartier Tiffany Kellogg
    Heinz Campbell Wendy Hershey Cadbury Lipton Nikon Canon Casio Yamaha Honda Toyota Suzuki
    Mazda Subaru Nissan Hyundai Kia Skoda Volvo Fiat Audi Opel Jaguar Hermès Dyson Miele""".split()  # noqa: SIM905
)

TRAIN_MORE = [
    # names as possessives and as modifiers of a work
    "I'm {F}'s daughter.",
    "This is {P}'s old phone, please wipe it.",
    "{P}'s lawyers filed the appeal on {D}.",
    "We sang songs from {P}'s first album.",
    "The {L} report was leaked to the press.",
    "Have you read the new {L} novel?",
    "the {P} interview aired on {W}",
    "Fans still prefer early {L} to the later records.",
    "The {P} recording sold a million copies.",
    "Everyone loved {F}'s cake.",
    # speaker labels and dialogue
    "{F}: Where were you last night?\n{F}: At home, I swear.",
    "{F}: Thanks!\n{F}: No problem.",
    '{F}: "I told you so."\n{F}: "You did."',
    # surnames opening a sentence, people in prose
    "{L} began her career in {C} as a nurse.",
    "{L} later admitted that the plan had failed.",
    "{L} was sentenced to five years.",
    "{P} began working at {O} in {M}.",
    "Reader {P} points out that the numbers do not add up.",
    "As commenter {P} noted, the fee is too high.",
    "Producer {P} told reporters the tour is cancelled.",
    "Coach {L} praised the defence.",
    "The reservation is under {P}.",
    "It might be booked under {L}.",
    "Booked under the name {P}, two nights.",
    "Witnesses included {P}, {P} and {P}.",
    "The family of {P} thanked the rescuers.",
    "A spokesperson for {P} declined to comment.",
    "{P} and her husband {F} run a bakery in {C}.",
    "Please forward this to {P} in the legal team.",
    # more addresses and places, so the new templates above do not thin them out
    "Return address: {A}",
    "The property at {A} is for sale.",
    "Could you send a technician to {A}?",
    "I no longer live at {A}, please update it.",
    "Registered office: {O}, {A}",
    "Invoice to: {P}, {A}",
    "We met outside {A} around noon.",
    "My parents still live at {A}.",
    "The shop is located at {A}.",
    "Please collect the parcel from {A} before {W}.",
    "Has the order to {A} been dispatched?",
    "{P} | {A} | {E}",
    "We are flying to {C} on {W}.",
    "Our family comes from {C}.",
    "I'm stuck at the airport in {C}.",
    "Is the service available in {N} yet?",
    "He commutes between {C} and {C}.",
    "Greetings from {C}!",
    "She represented {N} at the games.",
    "The storm hit {C} last night.",
    # places opening a sentence about the place; the same words used for people
    "{G} is famous for its food and wine.",
    "{G} is known for fashion and design.",
    "{G} hosts a big festival every {M}.",
    "{G} was rebuilt after the war.",
    "{G} gets very hot in {M}.",
    "{G} has great beaches.",
    "{G} is beautiful in the spring.",
    "{G} is expensive but worth a visit.",
    "Is {G} safe for tourists?",
    "{C} is famous for its markets.",
    "{N} has some of the best coffee in the world.",
    "{H} is my sister.",
    "{H} is a nurse at the local hospital.",
    "{H} has two kids and a dog.",
    "{H} was born in {C}.",
    "{H} is famous for her cooking.",
    # nationality words, organisations and brands: no one
    "She loves {J} food.",
    "The {J} team won the final.",
    "We watched a {J} film last night.",
    "My grandmother speaks {J} and {J}.",
    "The {J} government announced new rules on {D}.",
    "Is the menu available in {J}?",
    "A {J} documentary about {C} won the prize.",
    "{O} is headquartered in {C}.",
    "Shares of {O} fell {K}% on {W}.",
    "{O} opened a new office in {C}.",
    "{L} {Z} is hiring engineers in {C}.",
    "I drive a {Y} and my wife drives a {Y}.",
    "{Y} released a new model in {M}.",
    "The {Y} store in {C} was closed.",
]

HELDOUT_MORE = [
    "{G} is renowned for its architecture.",
    "{G} draws millions of visitors every year.",
    "{G} looks gorgeous at night.",
    "{N} exports mostly coffee and sugar.",
    "{H} is a teacher in {C}.",
    "{H} just had a baby girl.",
    "My cousin {H} lives abroad.",
    "We ordered {J} takeaway on {W}.",
    "The {J} embassy is closed on {W}.",
    "{Y} recalled {K} cars this spring.",
    "{O} relocated its headquarters to {C}.",
    "It was {F}'s idea to call support.",
    "Her favourite book is the {L} biography.",
    "{P}'s estate sold the house in {C}.",
    "[{K}:00] {F}: did the refund go through?\n[{K}:01] {F}: not yet",
    "Columnist {P} argues that prices will rise.",
    "{L} started painting at the age of {K}.",
    "Is the table reserved under {P}?",
    "Correspondence for {P} goes to {A}.",
    "The {L} family has farmed near {C} for generations.",
    "According to neighbour {P}, the noise started at midnight.",
    "{P} has been our customer for years.",
]
