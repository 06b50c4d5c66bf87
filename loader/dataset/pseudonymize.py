"""Pseudonymization for `ingest --pseudonymize` (and the listener, when asked).

- Patient ID and Patient Name become a keyed HMAC-SHA256 pseudonym (hex, 20 characters); the key comes
  from DICOM_GRAPH_PSEUDONYM_KEY, so the same patient gets the same pseudonym in every run and every
  process, and nobody without the key can recompute it from a name.
- Every other identifying attribute of the Basic Application Level Confidentiality Profile
  (PS3.15 Table E.1-1) is not stored (`REMOVED_KEYWORDS`).
- UIDs are kept (the profile would replace them; we keep them so pointers still resolve).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from pydicom.datadict import keyword_dict

ENV_KEY = "DICOM_GRAPH_PSEUDONYM_KEY"

# PS3.15 Table E.1-1 attributes other than UIDs, Patient ID and Patient Name (which are handled apart).
_TABLE_E_1_1 = """
AccessionNumber AcquisitionComments AcquisitionContextSequence AcquisitionDate AcquisitionDateTime
AcquisitionDeviceProcessingDescription AcquisitionProtocolDescription AcquisitionTime
ActualHumanPerformersSequence AdditionalPatientHistory AdmissionID AdmittingDate
AdmittingDiagnosesCodeSequence AdmittingDiagnosesDescription AdmittingTime Allergies Arbitrary
AuthorObserverSequence BranchOfService CassetteID CommentsOnThePerformedProcedureStep
ConfidentialityConstraintOnPatientDataDescription ContentCreatorIdentificationCodeSequence
ContentCreatorName ContentDate ContentSequence ContentTime ContributionDescription CountryOfResidence
CurrentPatientLocation CurveDate CurveTime CustodialOrganizationSequence DataSetTrailingPadding
DerivationDescription DetectorID DeviceSerialNumber DigitalSignaturesSequence
DischargeDiagnosisDescription DistributionAddress DistributionName EthnicGroup FrameComments GantryID
GeneratorID GraphicAnnotationSequence HumanPerformerName HumanPerformerOrganization IconImageSequence
IdentifyingComments ImageComments ImagePresentationComments ImagingServiceRequestComments Impressions
InstanceCreationDate InstanceCreationTime InstitutionAddress InstitutionCodeSequence
InstitutionName InstitutionalDepartmentName InsurancePlanIdentification
IntendedRecipientsOfResultsIdentificationSequence InterpretationApproverSequence InterpretationAuthor
InterpretationDiagnosisDescription InterpretationIDIssuer InterpretationRecorder InterpretationText
InterpretationTranscriber IssuerOfAdmissionID IssuerOfPatientID IssuerOfServiceEpisodeID
LastMenstrualDate MedicalAlerts MedicalRecordLocator MilitaryRank ModifiedAttributesSequence
ModifiedImageDescription ModifyingDeviceID ModifyingDeviceManufacturer NameOfPhysiciansReadingStudy
NamesOfIntendedRecipientsOfResults Occupation OperatorIdentificationSequence OperatorsName
OrderCallbackPhoneNumber OrderEnteredBy OrderEntererLocation OriginalAttributesSequence
OtherPatientIDs OtherPatientIDsSequence OtherPatientNames OverlayComments OverlayDate OverlayTime
ParticipantSequence PatientAddress PatientAge PatientBirthDate PatientBirthName PatientBirthTime
PatientComments PatientInsurancePlanCodeSequence PatientMotherBirthName
PatientPrimaryLanguageCodeSequence PatientReligiousPreference PatientSex PatientSexNeutered
PatientSize PatientState PatientTelephoneNumbers PatientTransportArrangements PatientWeight
PerformedLocation PerformedProcedureStepDescription PerformedProcedureStepEndDate
PerformedProcedureStepEndTime PerformedProcedureStepID PerformedProcedureStepStartDate
PerformedProcedureStepStartTime PerformedStationAETitle PerformedStationGeographicLocationCodeSequence
PerformedStationName PerformedStationNameCodeSequence PerformingPhysicianIdentificationSequence
PerformingPhysicianName PersonAddress PersonIdentificationCodeSequence PersonName
PersonTelephoneNumbers PhysicianApprovingInterpretation PhysiciansOfRecord
PhysiciansOfRecordIdentificationSequence PhysiciansReadingStudyIdentificationSequence PlateID
PreMedication PregnancyStatus ProtocolName ReasonForStudy ReasonForTheImagingServiceRequest
ReferencedDigitalSignatureSequence ReferencedPatientAliasSequence ReferencedPatientSequence
ReferencedSOPInstanceMACSequence ReferringPhysicianAddress ReferringPhysicianIdentificationSequence
ReferringPhysicianName ReferringPhysicianTelephoneNumbers RegionOfResidence RequestAttributesSequence
RequestedContrastAgent RequestedProcedureComments RequestedProcedureDescription RequestedProcedureID
RequestedProcedureLocation RequestingPhysician RequestingService ResponsibleOrganization
ResponsiblePerson ResultsComments ResultsDistributionListSequence ResultsIDIssuer ReviewerName
ScheduledHumanPerformersSequence ScheduledPatientInstitutionResidence
ScheduledPerformingPhysicianIdentificationSequence ScheduledPerformingPhysicianName
ScheduledProcedureStepDescription ScheduledProcedureStepEndDate ScheduledProcedureStepEndTime
ScheduledProcedureStepLocation ScheduledProcedureStepStartDate ScheduledProcedureStepStartTime
ScheduledStationAETitle ScheduledStationGeographicLocationCodeSequence ScheduledStationName
ScheduledStationNameCodeSequence ScheduledStudyLocation ScheduledStudyLocationAETitle SeriesDate
SeriesDescription SeriesTime ServiceEpisodeDescription ServiceEpisodeID SmokingStatus
SoftwareVersions SpecialNeeds StationName StudyComments StudyDate StudyDescription StudyID
StudyIDIssuer StudyTime TextComments TextString TimezoneOffsetFromUTC TopicAuthor TopicKeywords
TopicSubject TopicTitle VerifyingObserverIdentificationCodeSequence VerifyingObserverName
VerifyingObserverSequence VerifyingOrganization VisitComments BodyPartExamined
"""

REMOVED_KEYWORDS: frozenset[str] = frozenset(k for k in _TABLE_E_1_1.split() if k in keyword_dict)
PSEUDONYMIZED_KEYWORDS = frozenset({"PatientID", "PatientName"})


class PseudonymKeyMissing(RuntimeError):
    pass


class Pseudonymizer:
    """Keyed, stable pseudonyms; picklable (worker processes get their own copy)."""

    def __init__(self, key: bytes | str) -> None:
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not key:
            raise PseudonymKeyMissing(f"{ENV_KEY} is empty")
        self.key = key

    @classmethod
    def from_env(cls) -> "Pseudonymizer":
        key = os.environ.get(ENV_KEY)
        if not key:
            raise PseudonymKeyMissing(
                f"--pseudonymize needs a secret key in the environment variable {ENV_KEY}")
        return cls(key)

    def pseudonym(self, kind: str, value: str) -> str:
        mac = hmac.new(self.key, f"{kind}\x00{value}".encode("utf-8"), hashlib.sha256)
        return mac.hexdigest()[:20]

    def patient_id(self, patient_id: str, issuer: str | None) -> str:
        # the issuer takes part, so the same ID from two issuers stays two patients
        return self.pseudonym("PatientID", f"{patient_id}^{issuer or ''}")

    def patient_name(self, name: str) -> str:
        return self.pseudonym("PatientName", name)

    def removes(self, keyword: str) -> bool:
        return keyword in REMOVED_KEYWORDS

    def digest_key(self) -> bytes:
        """A key for content hashes, so a hash reveals nothing to whoever lacks the key."""
        return hashlib.sha256(b"content\x00" + self.key).digest()
