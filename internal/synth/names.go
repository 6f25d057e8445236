package synth

// The lists names and places are drawn from. Family names are ordered
// roughly by frequency and drawn with weight 1/(rank+10), so Smith is the
// most common (about 3%) and the long tail still shows up. They include
// accented and non-Latin-origin names (Núñez, Müller, Nguyễn, Ødegaard,
// Çelik, Łukasiewicz) and a family of shared prefixes (Smith, Smithers,
// Smithson, Smits, Smiley) so that prefix searches such as name=smi match
// several distinct names.

var familyNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller", "Davis", "Rodríguez", "Martínez",
	"Hernández", "López", "González", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
	"Lee", "Pérez", "Thompson", "White", "Harris", "Sánchez", "Clark", "Ramírez", "Lewis", "Robinson",
	"Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyễn", "Hill", "Flores",
	"Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
	"Gómez", "Phillips", "Evans", "Turner", "Díaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
	"Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutiérrez", "Ortiz", "Morgan", "Cooper",
	"Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson",
	"Watson", "Brooks", "Chávez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes",
	"Price", "Álvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jiménez",
	"Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes",
	"Smithers", "Fisher", "Vásquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham",
	"Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson",
	"Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens",
	"Harrison", "Fernández", "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen",
	"Smithson", "Freeman", "Webb", "Tucker", "Guzmán", "Burns", "Crawford", "Olson", "Simpson", "Porter",
	"Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Muñoz", "Hunt",
	"Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar",
	"Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "García-López", "O'Brien", "O'Connor", "Smits",
	"Müller", "Schröder", "Böhm", "Vogel", "Becker", "Hoffmann", "Schäfer", "Krüger", "Weiß", "Fuchs",
	"Núñez", "Peña", "Ibáñez", "Olivares", "Domínguez", "Suárez", "Cabrera", "Sáenz", "Quiñones", "Acuña",
	"Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Võ", "Đặng", "Bùi", "Wang", "Li",
	"Zhang", "Liu", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma",
	"Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Shin",
	"Yamamoto", "Tanaka", "Satō", "Suzuki", "Takahashi", "Watanabe", "Itō", "Nakamura", "Kobayashi", "Katō",
	"Shah", "Singh", "Kumar", "Reddy", "Iyer", "Gupta", "Sharma", "Desai", "Mehta", "Rao",
	"Haddad", "Khalil", "Al-Sayed", "Nasser", "Mansour", "Saleh", "Hamdan", "Aziz", "Darwish", "Farouk",
	"Ødegaard", "Åberg", "Løvdahl", "Sørensen", "Bjørnstad", "Lindqvist", "Nyström", "Öberg", "Håkansson", "Ekström",
	"Çelik", "Yılmaz", "Öztürk", "Şahin", "Doğan", "Aydın", "Kılıç", "Arslan", "Koç", "Kurt",
	"Łukasiewicz", "Błaszczyk", "Wójcik", "Kowalczyk", "Woźniak", "Dvořák", "Novák", "Černý", "Procházka", "Kučera",
	"Lefèvre", "Béranger", "Gauthier", "Mercier", "Lemaître", "Dubois", "Girard", "Fontaine", "Chevalier", "Rousseau",
	"van der Berg", "de Vries", "van Dijk", "Janssen", "de Jong", "De la Cruz", "Del Rosario", "Santos", "Pereira", "Gonçalves",
	"Smiley", "Okafor", "Adeyemi", "Mensah", "Okonkwo", "Abebe", "Kamau", "Mwangi", "Diallo", "Traoré",
	"Ivanov", "Petrova", "Kuznetsov", "Popescu", "Horváth", "Nagy", "Kovács", "Papadopoulos", "Georgiou", "Rossi",
	"Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno",
}

var femaleGiven = []string{
	"Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
	"Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna", "Michelle",
	"Carol", "Amanda", "Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia",
	"Kathleen", "Amy", "Angela", "Shirley", "Anna", "Brenda", "Pamela", "Emma", "Nicole", "Helen",
	"Samantha", "Katherine", "Christine", "Debra", "Rachel", "Carolyn", "Janet", "Catherine", "Maria", "Heather",
	"Diane", "Ruth", "Julie", "Olivia", "Joyce", "Virginia", "Victoria", "Kelly", "Lauren", "Christina",
	"María", "José María", "Lucía", "Sofía", "Inés", "Zoë", "Chloé", "Renée", "Amélie", "Noémie",
	"Hélène", "Céline", "Françoise", "Anaïs", "Björk", "Åsa", "Søs", "Ingrid", "Małgorzata", "Zuzana",
	"Siân", "Niamh", "Aoife", "Saoirse", "Mei", "Xiu", "Yuki", "Hana", "Ji-woo", "Seo-yeon",
	"Priya", "Ananya", "Fatima", "Aisha", "Leila", "Nour", "Amara", "Chiamaka", "Ngozi", "Yaa",
	"Ayşe", "Elif", "Zeynep", "Thảo", "Linh", "Ngọc", "Rosa", "Carmen", "Guadalupe", "Pilar",
}

var maleGiven = []string{
	"James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
	"Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua",
	"Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason", "Jeffrey", "Ryan",
	"Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon",
	"Benjamin", "Samuel", "Gregory", "Alexander", "Frank", "Patrick", "Raymond", "Jack", "Dennis", "Jerry",
	"Tyler", "Aaron", "Henry", "Adam", "Douglas", "Nathan", "Peter", "Zachary", "Kyle", "Walter",
	"José", "Jesús", "Ángel", "Andrés", "Martín", "Raúl", "Joaquín", "Iñaki", "Nicolás", "Óscar",
	"François", "Jérôme", "Benoît", "Loïc", "Søren", "Björn", "Jürgen", "Jörg", "Łukasz", "Paweł",
	"Zoltán", "Tomáš", "Seán", "Eoin", "Oisín", "Wei", "Jun", "Hiroshi", "Kenji", "Min-jun",
	"Arjun", "Rahul", "Mohammed", "Ahmed", "Omar", "Yusuf", "Chinedu", "Kwame", "Tunde", "Kofi",
	"Mehmet", "Emre", "İbrahim", "Minh", "Dũng", "Quang", "Giovanni", "Luca", "Matteo", "Dmitri",
}

// neutralGiven are given names for patients recorded as other or unknown gender.
var neutralGiven = []string{"Alex", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Sam", "Robin", "Noa", "Ariel", "Kai"}

// place is a city with its state, the first digits of its postal codes, a
// telephone area code and its standard-time UTC offset.
type place struct {
	city, state, zip, area string
	offset                 string // as in 2025-03-04T07:31:12-05:00
}

var places = []place{
	{"Boston", "MA", "021", "617", "-05:00"},
	{"Worcester", "MA", "016", "508", "-05:00"},
	{"Providence", "RI", "029", "401", "-05:00"},
	{"Hartford", "CT", "061", "860", "-05:00"},
	{"New York", "NY", "100", "212", "-05:00"},
	{"Brooklyn", "NY", "112", "718", "-05:00"},
	{"Buffalo", "NY", "142", "716", "-05:00"},
	{"Philadelphia", "PA", "191", "215", "-05:00"},
	{"Pittsburgh", "PA", "152", "412", "-05:00"},
	{"Baltimore", "MD", "212", "410", "-05:00"},
	{"Richmond", "VA", "232", "804", "-05:00"},
	{"Charlotte", "NC", "282", "704", "-05:00"},
	{"Atlanta", "GA", "303", "404", "-05:00"},
	{"Miami", "FL", "331", "305", "-05:00"},
	{"Orlando", "FL", "328", "407", "-05:00"},
	{"Cleveland", "OH", "441", "216", "-05:00"},
	{"Detroit", "MI", "482", "313", "-05:00"},
	{"Chicago", "IL", "606", "312", "-06:00"},
	{"Milwaukee", "WI", "532", "414", "-06:00"},
	{"Minneapolis", "MN", "554", "612", "-06:00"},
	{"St. Louis", "MO", "631", "314", "-06:00"},
	{"Nashville", "TN", "372", "615", "-06:00"},
	{"New Orleans", "LA", "701", "504", "-06:00"},
	{"Houston", "TX", "770", "713", "-06:00"},
	{"San Antonio", "TX", "782", "210", "-06:00"},
	{"Dallas", "TX", "752", "214", "-06:00"},
	{"El Paso", "TX", "799", "915", "-07:00"},
	{"Denver", "CO", "802", "303", "-07:00"},
	{"Albuquerque", "NM", "871", "505", "-07:00"},
	{"Phoenix", "AZ", "850", "602", "-07:00"},
	{"Salt Lake City", "UT", "841", "801", "-07:00"},
	{"Boise", "ID", "837", "208", "-07:00"},
	{"Las Vegas", "NV", "891", "702", "-08:00"},
	{"Los Angeles", "CA", "900", "213", "-08:00"},
	{"San José", "CA", "951", "408", "-08:00"},
	{"San Francisco", "CA", "941", "415", "-08:00"},
	{"Sacramento", "CA", "958", "916", "-08:00"},
	{"Portland", "OR", "972", "503", "-08:00"},
	{"Seattle", "WA", "981", "206", "-08:00"},
	{"Anchorage", "AK", "995", "907", "-09:00"},
	{"Honolulu", "HI", "968", "808", "-10:00"},
	{"San Juan", "PR", "009", "787", "-04:00"},
}

var streets = []string{
	"Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Pine Street", "Elm Street", "Washington Avenue",
	"Lake View Road", "Hillcrest Drive", "Park Place", "Sunset Boulevard", "Church Street", "River Road",
	"Highland Avenue", "Meadow Lane", "Forest Drive", "Jefferson Street", "Franklin Avenue", "Lincoln Road",
	"Spring Street", "Valley Road", "Ridge Avenue", "Chestnut Street", "Willow Way", "Harbor Drive",
	"Calle de la Reina", "Avenida Juárez", "Rue Saint-Honoré", "Königstraße",
}

var organizationNames = []string{
	"Riverside Cardiology Associates", "Lakeshore Community Health Center", "Summit Remote Care",
	"Northgate Family Medicine", "Bayview Heart & Vascular", "Pinecrest Internal Medicine",
	"Harborview Telehealth Clinic", "Mountain View Primary Care", "Greenfield Pulmonary Group",
	"Clínica San Rafael", "Oakwood Geriatrics", "Prairie Health Partners", "Cedar Valley Medical Group",
	"Westside Hypertension Clinic", "Eastbrook Chronic Care", "Silver Lake Diabetes Center",
}
