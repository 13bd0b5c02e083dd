# Begrunnelser fra kjernen som setninger for innbyggere, og datoer og lengder i ord.
weekday-mon = mandag
weekday-tue = tirsdag
weekday-wed = onsdag
weekday-thu = torsdag
weekday-fri = fredag
weekday-sat = lørdag
weekday-sun = søndag
month-1 = januar
month-2 = februar
month-3 = mars
month-4 = april
month-5 = mai
month-6 = juni
month-7 = juli
month-8 = august
month-9 = september
month-10 = oktober
month-11 = november
month-12 = desember
month-short-1 = jan.
month-short-2 = feb.
month-short-3 = mars
month-short-4 = apr.
month-short-5 = mai
month-short-6 = juni
month-short-7 = juli
month-short-8 = aug.
month-short-9 = sep.
month-short-10 = okt.
month-short-11 = nov.
month-short-12 = des.
date-long = { $weekday } { $day }. { $month } { $year }
date-short = { $day }.{ $month }.
date-time = { $date } kl. { $time }
duration-days = { $count ->
    [one] ett døgn
   *[other] { $count } dager
  }
duration-hours = { $count ->
    [one] én time
   *[other] { $count } timer
  }
duration-minutes = { $count ->
    [one] ett minutt
   *[other] { $count } minutter
  }
list-and = og
list-or = eller
quota-bookings = { $count ->
    [one] én booking
   *[other] { $count } bookinger
  }
reason-closed-all-day = Lokalet er stengt hele dagen { $date }.
reason-outside-opening-hours = { $time } er utenfor åpningstiden på { $weekday } ({ $hours }).
reason-conflict = Lokalet er opptatt { $spans } (med rigging).
reason-conflict-series = Datoen kolliderer med en annen dato i den samme gjentakelsen.
reason-closure = Lokalet er stengt: { $closures }.
reason-too-short = Bookingen varer { $length }, men må vare minst { $min }.
reason-too-long = Bookingen varer { $length }, men kan vare høyst { $max }.
reason-misaligned = Start og slutt må passe med steg på { $step } ({ $start }–{ $end } gjør ikke det).
reason-too-soon = Søknaden må sendes minst { $lead } i forveien. Tidligste start nå er { $earliest }.
reason-too-far-ahead = Du kan booke høyst { $horizon } fram i tid. Seneste slutt nå er { $latest }.
reason-over-capacity = Lokalet har plass til { $limit } personer, men dere er { $attendees }.
reason-quota-week = Du kan ha høyst { $limit } per uke. Uken fra { $from } har du allerede { $used } ({ $usedtime }), og denne søknaden gjelder { $requested }.
reason-quota-month = Du kan ha høyst { $limit } per måned. Måneden fra { $from } har du allerede { $used } ({ $usedtime }), og denne søknaden gjelder { $requested }.
reason-nonexistent-local-time = { $time } finnes ikke fordi klokken stilles fram til sommertid. Velg en annen tid.
reason-room-closed = Dette lokalet kan ikke bookes.
reason-not-allowed = Du har ikke tilgang til å booke dette lokalet.
reason-too-many-skipped = { $skipped } av { $total } datoer ville blitt hoppet over, men høyst { $max } ({ $percent } %) kan hoppes over.
reason-invalid-recurrence = Gjentakelsen kan ikke brukes. Sjekk datoen i «Gjenta ukentlig til».
reason-no-occurrences = Gjentakelsen gir ingen datoer.
stored-outside-opening-hours = Tiden er utenfor lokalets åpningstid.
stored-conflict = Noen datoer kolliderte med andre bookinger og ble hoppet over.
stored-closure = Noen datoer falt på dager da lokalet er stengt, og ble hoppet over.
stored-too-short = Bookingen er kortere enn lokalet vanligvis tillater.
stored-too-long = Bookingen er lengre enn lokalet vanligvis tillater.
stored-misaligned = Tidene passer ikke med lokalets tidssteg.
stored-too-soon = Søknaden kom senere enn fristen for dette lokalet.
stored-too-far-ahead = Bookingen ligger lenger fram i tid enn lokalet vanligvis tillater.
stored-over-capacity = Det er flere deltakere enn lokalet har plass til.
stored-quota-exceeded = Bookingen går over kvoten din for perioden.
stored-nonexistent-local-time = Noen datoer fantes ikke på grunn av sommertid og ble hoppet over.
stored-room-closed = Lokalet kan ikke bookes.
stored-not-allowed = Du har ikke tilgang til å booke dette lokalet.
stored-too-many-skipped = For mange datoer ville blitt hoppet over.
stored-invalid-recurrence = Gjentakelsen kunne ikke brukes.
stored-no-occurrences = Gjentakelsen ga ingen datoer.

# A series that was not decided to its end (i18n::reasons::truncation).
series-cut-count = Serien har flere enn { $limit } datoer, og det er det meste som kan bookes på én gang. Avslutt den tidligere.
series-cut-horizon = Serien fortsetter etter { $date }, og lenger fram kan ikke rommet bookes. Avslutt den tidligere.
