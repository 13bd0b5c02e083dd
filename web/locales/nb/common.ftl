# Felles for alle sider: ramme, navigasjon, innlogging, registrering og feilsider.
skip-to-content = Hopp til hovedinnholdet
nav-label = Hovedmeny
nav-halls = Lokaler
nav-my-bookings = Mine bookinger
nav-queue = Søknadskø
nav-calendar = Kalender
nav-search = Søk
nav-calendar-links = Kalenderlenker
nav-notifications = Varsler
switch-language = English
signed-in-as = Innlogget som { $name }
sign-in = Logg inn
sign-out = Logg ut
register = Registrer deg
footer-text = Lokal – booking av kommunale lokaler. Spørsmål om en booking? Kontakt servicetorget.
back-to-start = Tilbake til forsiden
form-has-errors = Skjemaet må rettes
login-title = Logg inn
login-intro = Innbyggere logger inn med e-postadressen sin. Ansatte logger inn med brukernavnet fra kommunens katalog.
login-login = E-post eller brukernavn
login-login-hint = For eksempel kari.nordmann@example.no eller erik.dahl
login-password = Passord
login-no-account = Har du ikke konto?
login-error-login-missing = Skriv inn e-postadressen eller brukernavnet ditt
login-error-password-missing = Skriv inn passordet ditt
login-error-invalid = Feil e-post, brukernavn eller passord.
login-error-too-many = For mange mislykkede forsøk fra din tilkobling. Vent { $seconds } { $seconds ->
    [one] sekund
   *[other] sekunder
  } og prøv igjen. Innlogging fra andre steder er ikke berørt.
login-error-busy = Mange logger inn akkurat nå. Vent { $seconds } { $seconds ->
    [one] sekund
   *[other] sekunder
  } og prøv igjen.
login-error-account-guarded = Denne kontoen har hatt mange mislykkede innlogginger i det siste. For at kontoen ikke skal bli sperret i katalogen, kan bare enheter som har vært logget inn på den før, prøve de neste { $seconds } { $seconds ->
    [one] sekundet
   *[other] sekundene
  }. Vent, eller logg inn fra en enhet du har brukt før.
login-error-unavailable = Innloggingen svarer ikke akkurat nå. Prøv igjen om litt.
register-title = Registrer deg
register-intro = Med en konto kan du søke om å booke lokaler og følge søknadene dine.
register-name = Fullt navn
register-email = E-post
register-password = Passord
register-password-hint = Minst 10 tegn.
register-password-again = Gjenta passordet
register-privacy = Navnet og e-postadressen din vises bare for deg og saksbehandlerne, aldri offentlig.
register-submit = Opprett konto
register-error-name = Skriv inn navnet ditt (høyst 200 tegn)
register-error-email = Skriv inn en e-postadresse som navn@example.no
register-error-password = Passordet må ha minst 10 tegn
register-error-password-again = Passordene er ikke like
register-error-too-many = Det er opprettet for mange kontoer fra din tilkobling. Vent { $seconds } { $seconds ->
    [one] sekund
   *[other] sekunder
  } og prøv igjen.
register-error-busy = Mange registrerer seg akkurat nå, og ingenting ble lagret. Vent { $seconds } { $seconds ->
    [one] sekund
   *[other] sekunder
  } og prøv igjen.
register-error-exists = Det finnes allerede en konto med denne e-postadressen. Logg inn i stedet.
error-not-found = Fant ikke siden
error-not-found-detail = Siden finnes ikke, eller du har ikke tilgang til den.
error-csrf = Skjemaet er utløpt
error-csrf-detail = Skjemaet kunne ikke sendes fordi sikkerhetsnøkkelen mangler eller er utløpt. Gå tilbake, last inn siden på nytt og prøv igjen.
error-bad-form = Skjemaet kunne ikke leses
error-bad-form-detail = Innholdet i skjemaet var ugyldig ({ $detail }).
error-bad-address = Adressen er ugyldig ({ $detail }). Sjekk lenken, eller gå tilbake og prøv igjen.
error-unavailable = Tjenesten svarer ikke
error-unavailable-detail = Lokal får ikke kontakt med databasen eller katalogen akkurat nå. Ingenting er lagret. Prøv igjen om litt.
error-forbidden = Ingen tilgang
error-forbidden-detail = Denne siden er for saksbehandlere.
notice-signed-out = Du er logget ut.
notice-registered = Kontoen din er opprettet, og du er logget inn.
word-and = og

# A booking's dates by status (issue 16), joined with commas: "8 godkjent, 1 avslått, 1 avlyst".
dates-approved = { $count } godkjent
dates-pending = { $count } til behandling
dates-rejected = { $count } avslått
dates-cancelled = { $count } avlyst
dates-expired = { $count } utløpt
dates-skipped = { $count } hoppet over
