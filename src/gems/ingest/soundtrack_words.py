"""The words that say "soundtrack" — and those that say "a cover of one" — for :mod:`gems.ingest.soundtrack`.

Every pattern is case-insensitive unless its name says otherwise, and reads the same in RE2 (Arrow compute)
and Python's ``re``. Each list says what it is for and what it keeps out; the classifier's docstring says in
which order the rules read them.
"""

from __future__ import annotations

# fmt: off
SOUNDTRACK_TAGS = frozenset(
    {
        # generic
        "soundtrack", "soundtracks", "ost", "osts", "score", "scores", "original soundtrack", "original score",
        "best ost", "awesome soundtracks", "soundtrack musical",
        # film and television
        "film score", "film scores", "movie score", "movie scores", "film soundtrack", "film soundtracks",
        "movie soundtrack", "movie soundtracks", "film music", "movie music", "orchestral score", "trailer music",
        "horror soundtrack", "horror film music", "tv soundtrack", "tv soundtracks", "television soundtrack",
        "tv themes", "tv theme song",
        # composers
        "composer", "composers", "film composer", "film composers", "film music composer",
        "movie score composers", "great composers",
        # games
        "video game music", "video games music", "videogame music", "video game soundtrack",
        "video game soundtracks", "game music", "game soundtrack", "game soundtracks", "game ost", "vgm",
        "video game", "videogame",
        # anime
        "anime soundtrack", "anime ost", "anime soundtracks",
        # other languages
        "filmmusik", "filmmussik", "muzyka filmowa", "filmska muzika", "banda sonora", "bande originale",
        "trilha sonora", "colonna sonora", "musique de film", "bso",
    }
)
# fmt: on

_PRODUCTION = (
    r"(?:motion picture|feature film|film|movie|tv series|television series|series|tv show|television|musical"
    r"|broadway musical|video ?game|game|anime|netflix|hbo)"
)
# Album and title wording that only soundtracks use. A quoted source must follow a dash, a bracket, a slash or
# "theme"/"song"/"music"/"title"/"suite" — Spotify's ``Song - From "Film"`` — so a classical "Chorus from
# "Elijah"" or "Songs from "Friday Afternoons"" stays out; single and doubled apostrophes count as quotes.
PHRASES = "|".join(
    [
        r"original (?:motion picture |movie |film |television |tv |series |video ?game |game |broadway |cast "
        r"|anime |netflix |amazon |hbo |music |sound )*(?:soundtrack|score|sound track)",
        r"music from (?:and inspired by )?(?:the )?(?:original )?(?:motion picture|film|movie|series"
        r"|television|tv series|video ?game|game|netflix)",
        r"(?:music )?inspired by the (?:motion picture|film|movie|series|television series)",
        r"(?:^|[-–—(\[/:]\s*|\b(?:theme|song|music|title|suite)\s+)from (?:the )?"
        r"(?:[\"“”„«][^\"“”»]+[\"“”»]?|''.+?''|['‘’][^'‘’]+['‘’]?)",
        rf"\bfrom the (?:original )?(?:[\w.®'-]+ )?{_PRODUCTION}\b",
        rf"\((?:[^()]*\s)?from (?:the |a )?[^()]*\b{_PRODUCTION}\b",
        r"\([\"“][^\"”()]+[\"”]\)",  # Song ("Hairspray"): the production alone, quoted, as the annotation
        r"\bmain (?:titles?|theme)\b",
        r"\bend (?:credits?|titles?)\b",
        r"\bopening credits\b",
        r"\b(?:suite|theme|title theme|theme music) from\b",
        r"\b(?:series |show |tv |official |full )?theme song(?: (?:to|from|for|of)\b| version\b|\)|$)",
        r"\b(?:original |\d{4} )?(?:film|movie) version\b",
        r"\b(?:film|movie|original) score\b",
        r"/ ?score\b",
        r"\bbanda sonora\b",
        r"\bbande originale\b",
        r"\btrilha sonora\b",
        r"\bcolonna sonora\b",
        r"\bfilmmusik\b",
    ]
)
# The same in other scripts (read only in names that are not plain ASCII): soundtrack; the theme, opening,
# ending and insert songs of a drama or a film in Chinese, Japanese and Korean; Thai "song accompanying (a drama)".
NATIVE_PHRASES = (
    r"サウンドトラック|サントラ|原声|主[題题]曲|片[頭头尾]曲|插曲|[電电]視劇|电视剧|[電电]影\s*[《\"“「]|主題歌|挿入歌"
    r"|劇場版|オープニングテーマ|エンディングテーマ|삽입곡|เพลงประกอบ"
)
# A source named without quotes after a dash, capitalised, as Spotify credits ride music and some film songs:
# "The Cleaner - From Toy Story Midway Mania!", "Yellow Flicker Beat - From The Hunger Games: Mockingjay Part 1"
# (case-sensitive). Not a live recording, a session, a concert or a classical work named that way.
FROM_NAMED = r" [-–—] [Ff]rom (?:[Tt]he )?[A-Z0-9]"
FROM_NAMED_EXCLUDED = (
    r" [-–—] from .*\b(?:live|sessions?|presents|concert|tour|festival|center|centre|album|ep|vault|opera|ballet"
    r"|oratorio|symphony|concerto|cantata)\b"
)
OST = r"\bOST\b|\bO\.S\.T\.?(?:$|[\s)\],-])"  # case-sensitive: "Ghost", "most" and German "Ost" stay out
WORD = r"\b(?:(?:movie|film|original|tv|game|anime|motion picture) )?sound ?tracks?\b"
WORD_IN_ANNOTATION = r"(?: - |[(\[/]).*\bsound ?tracks?\b"
WORD_EXCLUDED = (
    r"sound ?tracks? (?:of|to|for|2|4) "
    r"|\b(?:summer|life|workout|party|road ?trip|study|wedding|sex|my|our|your) sound ?tracks?\b"
)

# An artist credit that is itself a soundtrack, a cast or a production's characters: "Glee Cast", "Original
# Broadway Cast of Hamilton", "Cast - Frozen", "The Witcher Soundtrack", "nintendo ost", "Hannah Montana";
# bands with such words in their names are excluded by name.
ARTIST = (
    r"^(?:the )?sound ?tracks?\b|\bsound ?tracks?\W*$|^osts?\b|\bosts?\W*$|\bcast\W*$|\bcast of\b|\bcast recording\b"
    r"|^cast\s*[-–:]|\boriginal (?:[a-z]+ )?cast\b|\b(?:broadway|musical|film|movie|tv|revival|london) cast\b"
    r"|^(?:hannah montana|troy and gabriella|sharpay evans|sharpay & ryan|phineas and ferb|spongebob squarepants"
    r"|steven universe|the muppets|sesame street|family guy|my little pony|league of legends|austin moon"
    r"|the barden bellas|the treblemakers|sex bob-omb|(?:metalocalypse: )?dethklok)$"
)
ARTIST_EXCLUDED = (
    WORD_EXCLUDED
    + r"|^cast$|^the appleseed cast$|^the cast of cheers$|^motion city soundtrack$|^the soundtrack of our lives$"
)

# Not soundtracks although their names look like one: covers, tributes, karaoke and re-recordings of film, game
# and anime music by someone else. In a title: the cover's own markers. In an artist credit: an ensemble named
# for screen music or for covering it ("Film Score Orchestra", "Hollywood Studio Orchestra", "Video Game
# Piano Players", "Halloween Sound Machine"), piano, lullaby, music-box, 8-bit and karaoke acts, and the
# best-known re-recording orchestras and YouTube arrangers by name. The real recordings keep their own
# credits (the composer, "London Symphony Orchestra", the cast), which none of these match.
COVER_TITLE = (
    r"originally (?:performed|recorded|sung|by)\b|\bin the style of\b|\bmade famous by\b|\bas made famous\b"
    r"|\bkaraoke\b|\btribute to\b|\btribute version\b|[(\[-]\s*(?:[\w.-]+\s+){0,2}cover\)?\s*(?:$|[)\]])"
    r"|\bcover version\b|\barr\.\s|\barranged (?:by|for)\b|\b(?:workout|fitness|lullaby|music box|8-bit|piano|cello"
    r"|violin|harp|guitar|ukulele|marimba) (?:version|remix|rendition|cover|arrangement)\b|\bcomputer game version\b"
    r"|\binstrumental version\b"
)
COVER_ARTIST = (
    r"\b(?:soundtrack|studio|pops|hollywood|movie|film|films|cinema|cinematique|screen|tv|television|theme|themes"
    r"|anime|game|gaming|video ?game|halloween|holiday)s? (?:\w+ )?(?:orchestra|philharmonic|symphony|ensemble"
    r"|singers|players|band|strings|all[- ]?stars|sound machine|factory|tunesters|crew|project|pianos?)\b"
    r"|\bpianos?\b|\bpianist\b|\blullab|\bmusic box\b|\borgel\b|\b8-bit\b|\bchiptune|\bkaraoke\b|\btribute\b|\bcovers?\b"
    r"|\bplayers$|^(?:the )?(?:city of prague philharmonic(?: orchestra)?|101 strings(?: orchestra)?"
    r"|london music works|eminence symphony orchestra|aun j-classic orchestra|vitamin string quartet"
    r"|the piano guys|kidz bop kids|the hit crew|video games live|l'orchestra (?:numerique|cinematique)"
    r"|natewantstobattle|amalee|rmaster|tpr|matt fuss|jonathan young|caleb hyles|anime kei|harajuku nation"
    r"|kyle landry|the kidz band|one little choir|giant woman|andr[ée] rieu|the redfeld ensemble"
    r"|jim brickman)\b"
)
# Classical composers whose works films borrow (Mendelssohn's "Elijah", Orff's "Carmina Burana"): credited to
# them, a track is the concert work, not a soundtrack.
CLASSICAL = (
    r"^(?:johann sebastian bach|ludwig van beethoven|wolfgang amadeus mozart|felix mendelssohn|antonio vivaldi"
    r"|franz schubert|fr[ée]d[ée]ric chopin|pyotr ilyich tchaikovsky|george frideric handel|johannes brahms"
    r"|giuseppe verdi|giacomo puccini|richard wagner|claude debussy|maurice ravel|erik satie|anton[ií]n dvo[řr][áa]k"
    r"|gustav mahler|edvard grieg|benjamin britten|gioachino rossini|camille saint-sa[ëe]ns|sergei rachmaninoff"
    r"|carl orff|johann pachelbel|georges bizet|franz liszt|robert schumann|joseph haydn|gabriel faur[ée]"
    r"|samuel barber|jules massenet|arvo p[äa]rt)$"
)

# Playlist names that say outright what the music is, a production and its soundtrack ("kdrama ost", "movie
# soundtracks", "video game scores"): they count without the catalogue bearing them out.
PLAYLIST_EXPLICIT = (
    r"\b(?:movie|film|cinema|tv|television|series|k-?drama|drama|anime|video ?game|game|disney|pixar|musical|broadway)"
    r"s?\W*(?:original )?(?:soundtracks?|osts?|scores?)\b|\bmotion picture soundtrack\b"
)
# Playlist names about screen or stage music. A name only counts where the tracks filed under it bear it out
# (see the classifier's playlist rule), so "soundtracks" of one listener's favourite indie songs does not fire.
# Studio Ghibli is not in it: playlists named for it hold mostly covers (music-box, piano, wind-band), and Joe
# Hisaishi's own recordings are found by the composer list. Disneyland playlists hold the films' songs and the
# rides' music; Hindi and Telugu ones hold film songs (those industries' songs are film songs, mostly), but
# "bollywood", "indian" and "tamil" ones in MPD are mostly Punjabi pop, a cappella and Tamil rap.
PLAYLIST = "|".join(
    [
        r"^(?:the |my |best |epic |favou?rite )*(?:original )?(?:soundtracks?|osts?|scores?)$",
        r"\b(?:movie|movies|film|films|cinema|cinematic|tv|television|tv show|series|anime|disney|pixar"
        r"|dreamworks|k-?drama|drama|musical)s? ?(?:soundtracks?|osts?|scores?|music|songs|themes?"
        r"|theme songs)\b",
        r"\b(?:video ?games?|videogames?|game) ?(?:soundtracks?|osts?|scores?|themes?)\b",
        r"\bvideo ?games?\b|\bvideogames?\b|\bvgm\b",
        r"\b(?:disney|disneyland|disney world|pixar|anime|k-?drama|broadway|musicals?|show ?tunes|star wars"
        r"|harry potter|lord of the rings|lotr|zelda|final fantasy|kingdom hearts|pok[eé]mon|undertale)\b",
        r"\b(?:hindi|telugu|tollywood)\b",
        r"\bosts?\b|\bmotion picture\b",
        WORD,
    ]
)
# Names about an era of pop rather than the productions: "disney throwback", "old disney", "disney jams" hold
# the Disney Channel stars' pop singles far more often than their films' songs.
PLAYLIST_EXCLUDED = r"\bthrowbacks?\b|\bjams\b|\bold\b|\btbt\b"
