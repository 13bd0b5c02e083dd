# Innbyggernes sider: forside, lokalside, bookingskjema og mine bookinger.
start-title = Finn et ledig lokale
start-intro = Søk etter et lokale som er ledig når du trenger det, og send en søknad.
rooms-found = { $count ->
    [0] Ingen lokaler
    [one] Ett lokale
   *[other] { $count } lokaler
  }
capacity-people = { $count } personer
rooms-free = { $count ->
    [0] Ingen ledige lokaler
    [one] Ett ledig lokale
   *[other] { $count } ledige lokaler
  }
search-legend = Hva trenger du?
search-date = Dato
search-from = Fra klokken
search-to = Til klokken
search-people = Antall personer
search-equipment = Utstyr
search-building = Bygg
search-any = Alle
search-submit = Søk
search-hint = Fyll inn dato og tid for å se bare lokaler som er ledige hele tiden.
search-free-when = Ledige hele tiden { $when }.
search-error-date = Skriv datoen som ÅÅÅÅ-MM-DD, for eksempel 2027-01-07
search-error-date-needed = Velg en dato for tidspunktet
search-error-time = Skriv klokkeslettet som TT:MM, for eksempel 18:00
search-error-to-needed = Velg når du er ferdig
search-error-from-needed = Velg når du begynner
search-error-order = Sluttid må være etter starttid
search-error-people = Skriv antall personer som et helt tall, minst 1
equipment-kitchen = Kjøkken
equipment-piano = Piano
equipment-projector = Prosjektor
equipment-sound-system = Lydanlegg
equipment-stage = Scene
equipment-video-conference = Videomøteutstyr
equipment-wheelchair-access = Tilgjengelig med rullestol
equipment-whiteboard = Tavle
error-bad-request = Ugyldig adresse
hall-not-found = Lokalet finnes ikke.
hall-error-date = Datoen i adressen er ugyldig. Bruk ÅÅÅÅ-MM-DD.
hall-error-week = Uken i adressen er ugyldig. Bruk ÅÅÅÅ-Wuu, for eksempel 2027-W01.
hall-building = Bygg
hall-floor = Etasje
hall-capacity = Plass til
hall-equipment = Utstyr
hall-about = Om lokalet
hall-book = Søk om å booke
hall-retired = Dette lokalet finnes ikke lenger og kan ikke bookes.
hall-closed = Dette lokalet kan ikke bookes nå.
hall-week = Ledige tider
hall-week-hint = Tabellen viser bare om lokalet er ledig, opptatt eller stengt, ikke hvem som har booket. «Opptatt» omfatter også tiden som trengs til rigging før og etter andre bookinger.
hall-week-nav = Bytt uke
week-previous = Forrige uke
week-next = Neste uke
hall-week-caption = Uke { $week }: { $from } til { $to }
hall-time = Tid
hall-division = Delbart lokale
hall-parts = { $hall } består av { $parts }.
hall-parts-rule = Booker du hele lokalet, er alle delene opptatt samtidig. Trenger du mindre plass, kan du booke én del.
hall-part-of = { $room } er en del av { $hall }.
hall-part-of-rule = Når hele lokalet er booket, er denne delen opptatt også, og omvendt.
card-parts = Består av { $parts }; booker du hele, er alle delene opptatt.
card-part-of = Del av { $hall }.
hall-no-hours = Lokalet har ingen åpningstid denne uken.
slot-free = Ledig
slot-busy = Opptatt
slot-closed = Stengt
slot-past = Passert
book-title = Søk om å booke { $hall }
book-see-week = Se ledige tider
book-date = Dato
book-start = Fra klokken
book-end = Til klokken
book-purpose = Hva skal lokalet brukes til?
book-purpose-hint = Vises bare for deg og saksbehandlerne. Høyst 500 tegn.
book-attendees = Antall deltakere
book-repeat-until = Gjenta ukentlig til
book-repeat-until-hint = Valgfritt. Samme ukedag og tid hver uke til og med denne datoen. Datoer som ikke er ledige hoppes over.
book-check = Sjekk
book-submit = Send søknad
book-error-date = Skriv datoen som ÅÅÅÅ-MM-DD, for eksempel 2027-01-07
book-error-time = Skriv klokkeslettet som TT:MM, for eksempel 18:00
book-error-order = Sluttid må være etter starttid
book-error-purpose = Skriv hva lokalet skal brukes til
book-error-purpose-long = Beskrivelsen kan ha høyst 500 tegn
book-error-attendees = Skriv antall deltakere som et helt tall, minst 1
book-error-until-order = Datoen må være samme dag som bookingen eller senere
book-error-too-many = Gjentakelsen har for mange datoer. Velg en tidligere sluttdato.
book-error-too-many-until = Gjentakelsen går lenger enn { $date }, den siste datoen som kan bookes nå. Velg den datoen eller en tidligere som sluttdato.
book-until-offer = Book til og med { $date }
book-error-too-long = Bookingen er for lang.
book-error-ambiguous = Tiden finnes to ganger når klokken stilles tilbake. Velg en annen tid.
book-refused = Søknaden kan ikke sendes slik den er. Se begrunnelsen under skjemaet.
book-overlap = Noen andre booket det samme tidspunktet akkurat nå. Velg en annen tid.
book-key-reused = Skjemaet ble allerede sendt med andre opplysninger. Sjekk opplysningene og send på nytt.
book-not-bookable = Lokalet kan ikke bookes
check-heading = Resultat av sjekken
check-approved = Søknaden vil bli godkjent med en gang.
check-pending = Søknaden vil bli sendt til en saksbehandler, som avgjør den.
check-rejected = Søknaden vil bli avslått.
check-skipped = { $count ->
    [one] Denne datoen blir hoppet over:
   *[other] Disse { $count } datoene blir hoppet over:
  }
mine-title = Mine bookinger
mine-none = Du har ingen bookinger ennå.
mine-find = Finn et ledig lokale
mine-repeats = { $count ->
    [one] Én dato
   *[other] { $count } datoer, ukentlig
  }
mine-reason = Begrunnelse: { $reason }
mine-not-found = Bookingen finnes ikke, eller den er ikke din.
mine-cannot-cancel = Bookingen kan ikke avlyses
mine-cannot-cancel-detail = Bookingen har status «{ $status }» og kan ikke avlyses.
mine-no-calendar = Bookingen er ikke i kalenderen lenger, fordi den ikke holder av lokalet.
mine-notice-created = Søknaden er sendt.
mine-notice-cancelled = Bookingen er avlyst.
mine-hold-until = Søknaden må behandles innen { $when }. Ellers utløper den.
mine-when = Tid
mine-purpose = Formål
mine-hall = Lokale
mine-reasons = Merknader
mine-dates = Datoer
mine-date = Dato og tid
mine-status = Status
mine-download = Last ned til kalenderen (.ics)
mine-cancel = Avlys bookingen
mine-back = Tilbake til mine bookinger
status-pending = Til behandling
status-approved = Godkjent
status-rejected = Avslått
status-cancelled = Avlyst
status-expired = Utløpt
status-skipped = Hoppet over
status-reason-requester = avlyst av deg
status-reason-expired = ingen saksbehandler avgjorde søknaden i tide

# Dates one by one (issue 16)
mine-summary = Datoene
mine-date-note = Merknad
mine-date-action = Endre
mine-cancel-date = Avlys { $when }
mine-cancel-all = Avlys hele bookingen …
mine-confirm-title = Avlyse?
mine-confirm-date = Vil du avlyse { $when } i { $hall }? De andre datoene beholdes.
mine-confirm-series = Vil du avlyse hele bookingen i { $hall }, alle { $count } datoene?
mine-confirm-yes-date = Ja, avlys denne datoen
mine-confirm-yes-series = Ja, avlys hele bookingen
mine-confirm-no = Nei, gå tilbake
mine-notice-date-cancelled = Datoen er avlyst. De andre datoene er beholdt.

# Flytte en dato (issue 16)
move-title = Flytt { $when }
move-intro = Velg ny dag og tid for { $when } i { $hall }. Den nye tiden vurderes som en ny søknad; blir den ikke godkjent, beholder du tiden du har.
move-hint = Trenger lokalet en saksbehandler for å godkjenne endringen, beholder du den gamle tiden til saksbehandleren har godkjent den nye.
move-submit = Flytt datoen
mine-move-date = Flytt { $when }
mine-notice-date-moved = Datoen er flyttet.
mine-notice-date-move-asked = Den nye tiden venter på en saksbehandler. Du beholder den gamle tiden til den nye er godkjent.
status-reason-moved = flyttet fra { $from } til { $to }
status-reason-move-asked = ønsket flyttet fra { $from } til { $to }
status-reason-moved-to = flyttet til { $to }
book-error-change-overlaps = Den nye tiden overlapper den gamle, som du beholder til en saksbehandler har godkjent endringen. Velg en tid som ikke overlapper, eller avlys datoen og søk på nytt.
book-error-change-waiting = En endring av denne datoen venter allerede på en saksbehandler. Avlys den først.
book-error-date-passed = Datoen har allerede begynt. Bare datoer som kommer, kan flyttes.
